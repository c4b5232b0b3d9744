// Typed access to GGUF metadata values.
#include <cstring>
#include <limits>

#include "core/errors.h"
#include "model_loader/gguf.h"

namespace vllm {

namespace {

bool is_integer(GGUFValueType type) {
  switch (type) {
    case GGUFValueType::UINT8:
    case GGUFValueType::INT8:
    case GGUFValueType::UINT16:
    case GGUFValueType::INT16:
    case GGUFValueType::UINT32:
    case GGUFValueType::INT32:
    case GGUFValueType::UINT64:
    case GGUFValueType::INT64: return true;
    default: return false;
  }
}

bool is_float(GGUFValueType type) {
  return type == GGUFValueType::FLOAT32 || type == GGUFValueType::FLOAT64;
}

[[noreturn]] void throw_wrong_type(const GGUFFile& file, std::string_view key,
                                   const GGUFValue& value, std::string_view expected) {
  std::string actual(gguf_value_type_name(value.type));
  if (value.type == GGUFValueType::ARRAY) {
    actual = fmt::format("ARRAY of {}",
                         gguf_value_type_name(std::get<GGUFArray>(value.value).element_type));
  }
  throw ModelLoadError(fmt::format("GGUF file '{}': metadata key '{}' has type {}, expected {}",
                                   file.path(), key, actual, expected));
}

// Converts an integer value to int64_t; `key` names the value in the error message.
int64_t to_int64(const GGUFFile& file, std::string_view key, const GGUFValue& value) {
  if (const auto* signed_value = std::get_if<int64_t>(&value.value)) {
    return *signed_value;
  }
  uint64_t unsigned_value = std::get<uint64_t>(value.value);
  if (unsigned_value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw ModelLoadError(fmt::format("GGUF file '{}': metadata key '{}' has value {}, which "
                                     "does not fit in int64", file.path(), key, unsigned_value));
  }
  return static_cast<int64_t>(unsigned_value);
}

double to_double(const GGUFValue& value) {
  if (is_float(value.type)) {
    return std::get<double>(value.value);
  }
  if (const auto* signed_value = std::get_if<int64_t>(&value.value)) {
    return static_cast<double>(*signed_value);
  }
  return static_cast<double>(std::get<uint64_t>(value.value));
}

const GGUFArray& get_array(const GGUFFile& file, std::string_view key, const GGUFValue& value,
                           std::string_view expected) {
  if (value.type != GGUFValueType::ARRAY) {
    throw_wrong_type(file, key, value, expected);
  }
  return std::get<GGUFArray>(value.value);
}

template <typename T>
T load(const uint8_t*& cursor) {
  T value;
  std::memcpy(&value, cursor, sizeof(T));
  cursor += sizeof(T);
  return value;
}

// Decodes one element at `cursor` and moves past it. The parser checked every length, but
// release_metadata_pages() makes later reads go to the file again, so `end` bounds them.
GGUFValue decode_element(GGUFValueType type, const uint8_t*& cursor, const uint8_t* end) {
  const auto need = [&](uint64_t bytes) {
    if (bytes > static_cast<uint64_t>(end - cursor)) {
      throw ModelLoadError(fmt::format(
          "invalid GGUF metadata array: an element needs {} bytes but {} are left, so the "
          "file changed on disk after loading; load the model again",
          bytes, end - cursor));
    }
  };
  switch (type) {
    case GGUFValueType::UINT8: need(1); return {type, uint64_t{load<uint8_t>(cursor)}};
    case GGUFValueType::INT8: need(1); return {type, int64_t{load<int8_t>(cursor)}};
    case GGUFValueType::UINT16: need(2); return {type, uint64_t{load<uint16_t>(cursor)}};
    case GGUFValueType::INT16: need(2); return {type, int64_t{load<int16_t>(cursor)}};
    case GGUFValueType::UINT32: need(4); return {type, uint64_t{load<uint32_t>(cursor)}};
    case GGUFValueType::INT32: need(4); return {type, int64_t{load<int32_t>(cursor)}};
    case GGUFValueType::UINT64: need(8); return {type, load<uint64_t>(cursor)};
    case GGUFValueType::INT64: need(8); return {type, load<int64_t>(cursor)};
    case GGUFValueType::FLOAT32: need(4); return {type, double{load<float>(cursor)}};
    case GGUFValueType::FLOAT64: need(8); return {type, load<double>(cursor)};
    case GGUFValueType::BOOL: need(1); return {type, load<uint8_t>(cursor) != 0};
    case GGUFValueType::STRING: {
      need(8);
      const uint64_t length = load<uint64_t>(cursor);
      need(length);
      std::string text(reinterpret_cast<const char*>(cursor), length);
      cursor += length;
      return {type, std::move(text)};
    }
    case GGUFValueType::ARRAY: break;
  }
  throw InternalError(fmt::format("GGUF array elements of type {} are not stored encoded",
                                  gguf_value_type_name(type)));
}

// Calls fn(value) for each encoded element of `array` in order.
template <typename Fn>
void for_each_element(const GGUFArray& array, Fn&& fn) {
  const uint8_t* cursor = array.encoded.data();
  const uint8_t* end = array.encoded.data() + array.encoded.size();
  for (uint64_t i = 0; i < array.count; ++i) fn(decode_element(array.element_type, cursor, end));
}

}  // namespace

std::vector<GGUFValue> GGUFArray::decode() const {
  if (element_type == GGUFValueType::ARRAY) return nested;
  std::vector<GGUFValue> values;
  values.reserve(count);
  for_each_element(*this, [&](GGUFValue value) { values.push_back(std::move(value)); });
  return values;
}

const GGUFValue* GGUFFile::find(std::string_view key) const {
  auto it = metadata_.find(std::string(key));
  return it == metadata_.end() ? nullptr : &it->second;
}

namespace {

const GGUFValue& find_required(const GGUFFile& file, std::string_view key) {
  const GGUFValue* value = file.find(key);
  if (value == nullptr) {
    throw ModelLoadError(
        fmt::format("GGUF file '{}' has no metadata key '{}'", file.path(), key));
  }
  return *value;
}

}  // namespace

std::string GGUFFile::get_string(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  if (value.type != GGUFValueType::STRING) {
    throw_wrong_type(*this, key, value, "STRING");
  }
  return std::get<std::string>(value.value);
}

int64_t GGUFFile::get_int(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  if (!is_integer(value.type)) {
    throw_wrong_type(*this, key, value, "an integer");
  }
  return to_int64(*this, key, value);
}

double GGUFFile::get_float(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  if (!is_float(value.type) && !is_integer(value.type)) {
    throw_wrong_type(*this, key, value, "a number");
  }
  return to_double(value);
}

bool GGUFFile::get_bool(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  if (value.type != GGUFValueType::BOOL) {
    throw_wrong_type(*this, key, value, "BOOL");
  }
  return std::get<bool>(value.value);
}

std::vector<std::string> GGUFFile::get_string_array(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  const GGUFArray& array = get_array(*this, key, value, "ARRAY of STRING");
  if (array.element_type != GGUFValueType::STRING) {
    throw_wrong_type(*this, key, value, "ARRAY of STRING");
  }
  std::vector<std::string> result;
  result.reserve(array.count);
  for_each_element(array, [&](GGUFValue element) {
    result.push_back(std::get<std::string>(std::move(element.value)));
  });
  return result;
}

std::vector<int64_t> GGUFFile::get_int_array(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  const GGUFArray& array = get_array(*this, key, value, "ARRAY of integers");
  if (!is_integer(array.element_type)) {
    throw_wrong_type(*this, key, value, "ARRAY of integers");
  }
  std::vector<int64_t> result;
  result.reserve(array.count);
  for_each_element(array, [&](const GGUFValue& element) {
    result.push_back(to_int64(*this, key, element));
  });
  return result;
}

std::vector<double> GGUFFile::get_float_array(std::string_view key) const {
  const GGUFValue& value = find_required(*this, key);
  const GGUFArray& array = get_array(*this, key, value, "ARRAY of numbers");
  if (!is_float(array.element_type) && !is_integer(array.element_type)) {
    throw_wrong_type(*this, key, value, "ARRAY of numbers");
  }
  std::vector<double> result;
  result.reserve(array.count);
  for_each_element(array, [&](const GGUFValue& element) { result.push_back(to_double(element)); });
  return result;
}

std::optional<std::string> GGUFFile::get_string_or(std::string_view key) const {
  return find(key) ? std::optional(get_string(key)) : std::nullopt;
}

std::optional<int64_t> GGUFFile::get_int_or(std::string_view key) const {
  return find(key) ? std::optional(get_int(key)) : std::nullopt;
}

std::optional<double> GGUFFile::get_float_or(std::string_view key) const {
  return find(key) ? std::optional(get_float(key)) : std::nullopt;
}

std::optional<bool> GGUFFile::get_bool_or(std::string_view key) const {
  return find(key) ? std::optional(get_bool(key)) : std::nullopt;
}

}  // namespace vllm
