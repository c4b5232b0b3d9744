// The `vllm._C` extension module: the one place where every binding is registered.
#include <pybind11/pybind11.h>

#include "python/bindings.h"

#ifndef VLLM_VERSION
#define VLLM_VERSION "0.0.0"
#endif

PYBIND11_MODULE(_C, m) {
  m.doc() = "C++ core of the vllm package (engine, tokenizer, sampling and outputs)";
  m.attr("__version__") = VLLM_VERSION;

  vllm::python::bind_errors(m);
  vllm::python::bind_sampling_params(m);
  vllm::python::bind_outputs(m);
  vllm::python::bind_tokenizer(m);
  vllm::python::bind_engine(m);
}
