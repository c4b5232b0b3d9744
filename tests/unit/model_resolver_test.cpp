// Model path resolution: default model names, the cache root variables, files and
// directories.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "core/errors.h"
#include "model_loader/model_resolver.h"
#include "scoped_env.h"
#include "vllm/engine.h"

namespace fs = std::filesystem;
using vllm::ModelLoadError;
using vllm::resolve_model_path;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using vllm::testing::ScopedEnv;

class ModelResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("model_resolver_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::create_directories(dir_);
    cache_root_.set((dir_ / "cache").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void touch(const fs::path& path) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "GGUF";
  }

  std::string default_model_file() const {
    return (dir_ / "cache" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").string();
  }

  fs::path dir_;
  ScopedEnv cache_root_{"VLLM_CACHE_ROOT"};
  ScopedEnv xdg_cache_{"XDG_CACHE_HOME"};
  ScopedEnv home_{"HOME"};
};

TEST_F(ModelResolverTest, DefaultModelMissing) {
  try {
    resolve_model_path("");
    ADD_FAILURE() << "no error for a missing default model";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "tools/fetch_default_model.sh")) << error.what();
    EXPECT_TRUE(contains(error.what(), default_model_file())) << error.what();
  }
}

TEST_F(ModelResolverTest, DefaultModelNames) {
  touch(default_model_file());
  EXPECT_EQ(resolve_model_path(""), default_model_file());
  EXPECT_EQ(resolve_model_path("SmolLM2-135M-Instruct"), default_model_file());
  EXPECT_EQ(resolve_model_path("HuggingFaceTB/SmolLM2-135M-Instruct"), default_model_file());
}

TEST_F(ModelResolverTest, CacheRootFromXdg) {
  cache_root_.unset();
  xdg_cache_.set((dir_ / "xdg").string());
  EXPECT_EQ(vllm::vllm_cache_root(), (dir_ / "xdg" / "vllm").string());
  EXPECT_EQ(vllm::default_model_path(),
            (dir_ / "xdg" / "vllm" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").string());
}

TEST_F(ModelResolverTest, CacheRootFromHome) {
  cache_root_.set("");  // empty counts as unset
  xdg_cache_.unset();
  home_.set((dir_ / "home").string());
  EXPECT_EQ(vllm::vllm_cache_root(), (dir_ / "home" / ".cache" / "vllm").string());
}

TEST_F(ModelResolverTest, CacheRootVariableWins) {
  xdg_cache_.set((dir_ / "xdg").string());
  EXPECT_EQ(vllm::vllm_cache_root(), (dir_ / "cache").string());
}

TEST_F(ModelResolverTest, GgufFileItself) {
  fs::path file = dir_ / "other.Q8_0.gguf";
  touch(file);
  EXPECT_EQ(resolve_model_path(file.string()), file.string());
}

TEST_F(ModelResolverTest, DirectoryWithOneGguf) {
  fs::path file = dir_ / "model" / "weights.gguf";
  touch(file);
  touch(dir_ / "model" / "README.md");
  EXPECT_EQ(resolve_model_path((dir_ / "model").string()), file.string());
}

TEST_F(ModelResolverTest, DirectoryWithTwoGguf) {
  touch(dir_ / "model" / "a.gguf");
  touch(dir_ / "model" / "b.gguf");
  EXPECT_EQ(resolve_model_path((dir_ / "model").string()), (dir_ / "model").string());
}

TEST_F(ModelResolverTest, DirectoryWithoutGguf) {
  touch(dir_ / "model" / "config.json");
  fs::create_directories(dir_ / "model" / "sub.gguf");  // a directory, not a file
  EXPECT_EQ(resolve_model_path((dir_ / "model").string()), (dir_ / "model").string());
}

TEST_F(ModelResolverTest, LocalPathBeforeName) {
  fs::path local = dir_ / "work" / "SmolLM2-135M-Instruct";
  touch(local / "config.json");
  fs::path saved_cwd = fs::current_path();
  fs::current_path(dir_ / "work");
  std::string resolved = resolve_model_path("SmolLM2-135M-Instruct");
  fs::current_path(saved_cwd);
  EXPECT_EQ(resolved, "SmolLM2-135M-Instruct");
}

TEST_F(ModelResolverTest, MissingPath) {
  std::string path = (dir_ / "absent.gguf").string();
  try {
    resolve_model_path(path);
    ADD_FAILURE() << "no error for a missing path";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), path)) << error.what();
    EXPECT_TRUE(contains(error.what(), "not found")) << error.what();
  }
}

TEST_F(ModelResolverTest, UnknownName) {
  EXPECT_THROW(resolve_model_path("meta-llama/Llama-3.2-1B-Instruct"), ModelLoadError);
}

}  // namespace
