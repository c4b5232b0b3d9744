// Shape-checked access to GGUF tensors as model weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace vllm {

class GGUFFile;

// Returns the 2-D tensor `name` as a [rows, cols] weight matrix, copied once to huge pages
// and, where the CPU prefers it, packed into row groups. `row_slice` is the row count of the
// parts the caller will cut with slice_rows (0: no cuts). If such parts would split a
// 16-row group, the matrix keeps the row layout. GGUF lists the shape in ggml order, so the file must
// hold {cols, rows}. Throws ModelLoadError naming the tensor, the expected and the actual
// shape, or the type.
WeightMatrix gguf_weight_matrix(const GGUFFile& gguf, const std::string& name, int64_t rows,
                                int64_t cols, int64_t row_slice = 0);

// Returns the 2-D tensor `name` as a [rows, cols] table in the file layout, pointing into the
// mapping. It serves embedding tables that are only read by row, so that only the rows read
// become resident. Same checks as gguf_weight_matrix.
WeightMatrix gguf_table_matrix(const GGUFFile& gguf, const std::string& name, int64_t rows,
                               int64_t cols);

// Returns the 1-D tensor `name` of `size` elements, dequantized to float32.
std::vector<float> gguf_vector(const GGUFFile& gguf, const std::string& name, int64_t size);

}  // namespace vllm
