// Registration helpers of the `vllm._C` extension module. Each binds one group of types;
// module.cpp calls them in dependency order from the module's single PYBIND11_MODULE.
#pragma once

#include <pybind11/pybind11.h>

namespace vllm::python {

void bind_errors(pybind11::module_& m);
void bind_sampling_params(pybind11::module_& m);
void bind_outputs(pybind11::module_& m);
void bind_tokenizer(pybind11::module_& m);
void bind_engine(pybind11::module_& m);

}  // namespace vllm::python
