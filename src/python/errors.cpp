// Maps the library's exception tiers to Python exceptions:
//   InvalidArgument -> ValueError, as vLLM raises for bad prompts and sampling values;
//   ModelLoadError  -> vllm._C.ModelLoadError, a ValueError subclass, as vLLM raises
//                      ValueError for a model it cannot find or load;
//   InternalError and any other VllmError -> RuntimeError.
#include <exception>

#include "core/errors.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace vllm::python {

void bind_errors(py::module_& m) {
  // register_exception installs its own translator for ModelLoadError; the one below is
  // tried first (pybind11 tries the latest registration first) and passes it on.
  py::register_exception<ModelLoadError>(m, "ModelLoadError", PyExc_ValueError);

  py::register_exception_translator([](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const InvalidArgument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const ModelLoadError&) {
      throw;
    } catch (const VllmError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });
}

}  // namespace vllm::python
