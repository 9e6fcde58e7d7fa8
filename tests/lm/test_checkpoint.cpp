// Model folders: round trip, and every way a folder can be broken gives a clear IoError.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"
#include "recur/lm/checkpoint.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
const ModelTextConfig kText{.encoding = {.level = TokenLevel::character, .mode = PreprocessMode::raw},
                            .vocab = Vocab::from_tokens({"<unk>", "a", "b", " ", "\n"})};

fs::path saved_model(CellType cell = CellType::kLstm, int64_t embed = 3) {
  auto dir = test::make_temp_dir("ckpt");
  LanguageModel model(
      {.cell = cell, .num_layers = 2, .hidden_size = 4, .embedding_size = embed, .vocab_size = 5});
  Rng rng(1);
  model.reset_parameters(rng);
  save_model_files(dir, model, kText);
  return dir;
}

void expect_load_error(const fs::path& dir, const std::vector<std::string>& words) {
  try {
    (void)load_model(dir);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    for (const auto& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
  }
}

void rewrite_config(const fs::path& dir, const std::string& from, const std::string& to) {
  std::string json = read_file(dir / "config.json");
  auto at = json.find(from);
  ASSERT_NE(at, std::string::npos) << json;
  json.replace(at, from.size(), to);
  write_file_atomically(dir / "config.json", json);
}
}  // namespace

TEST(Checkpoint, RoundTripKeepsWeightsAndText) {
  auto dir = saved_model();
  LoadedModel a = load_model(dir);
  EXPECT_EQ(a.text.vocab, kText.vocab);
  EXPECT_EQ(a.text.encoding, kText.encoding);
  EXPECT_EQ(a.model->config().cell, CellType::kLstm);
  EXPECT_EQ(a.model->config().embedding_size, 3);
  LanguageModel b(
      {.cell = CellType::kLstm, .num_layers = 2, .hidden_size = 4, .embedding_size = 3, .vocab_size = 5});
  Rng rng(1);
  b.reset_parameters(rng);
  auto va = a.model->parameters().values();
  auto vb = b.parameters().values();
  EXPECT_TRUE(std::equal(va.begin(), va.end(), vb.begin(), vb.end()));
  EXPECT_TRUE(a.model->parameters().find("rnn.weight_hh_l1").has_value());
  EXPECT_TRUE(a.model->parameters().find("embedding.weight").has_value());
}

TEST(Checkpoint, MissingFilesAreNamed) {
  auto dir = saved_model();
  fs::remove(dir / "model.safetensors");
  expect_load_error(dir, {"model.safetensors", "missing"});
  dir = saved_model();
  fs::remove(dir / "config.json");
  expect_load_error(dir, {"config.json", "missing"});
  expect_load_error(dir / "nothing-here", {"does not exist"});
}

TEST(Checkpoint, TruncatedWeightsAreRejected) {
  auto dir = saved_model();
  std::string bytes = read_file(dir / "model.safetensors");
  write_file_atomically(dir / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_load_error(dir, {"model.safetensors", "data_offsets"});
}

TEST(Checkpoint, HeaderLengthPastTheEndIsRejected) {
  auto dir = saved_model();
  std::string bytes = read_file(dir / "model.safetensors");
  const uint64_t huge = 1ull << 40;
  std::memcpy(bytes.data(), &huge, 8);
  write_file_atomically(dir / "model.safetensors", bytes);
  expect_load_error(dir, {"past the end"});
}

TEST(Checkpoint, WrongDtypeIsRejected) {
  auto dir = saved_model();
  std::string bytes = read_file(dir / "model.safetensors");
  auto at = bytes.find("\"F32\"");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "\"I32\"");
  write_file_atomically(dir / "model.safetensors", bytes);
  expect_load_error(dir, {"dtype 'I32'"});
}

TEST(Checkpoint, ShapesThatDisagreeWithConfigAreRejected) {
  auto dir = saved_model();
  rewrite_config(dir, "\"hidden_size\": 4", "\"hidden_size\": 5");
  expect_load_error(dir, {"shape", "config.json implies"});
}

TEST(Checkpoint, UnknownCellIsRejected) {
  auto dir = saved_model();
  rewrite_config(dir, "\"lstm\"", "\"transformer\"");
  expect_load_error(dir, {"config.json", "unknown cell 'transformer'"});
}

TEST(Checkpoint, MissingTensorIsNamed) {
  auto dir = saved_model(CellType::kGru, 0);
  auto tensors = load_safetensors(dir / "model.safetensors");
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                               [](const NamedTensor& t) { return t.name == "head.bias"; }),
                tensors.end());
  save_safetensors(dir / "model.safetensors", tensors);
  expect_load_error(dir, {"head.bias", "missing"});
}

TEST(Checkpoint, BadConfigValuesAreNamed) {
  auto dir = saved_model();
  rewrite_config(dir, "\"layers\": 2", "\"layers\": 0");
  expect_load_error(dir, {"\"layers\""});
  dir = saved_model();
  rewrite_config(dir, "\"unk\": \"<unk>\"", "\"unk\": \"<nope>\"");
  expect_load_error(dir, {"\"unk\""});
  dir = saved_model();
  rewrite_config(dir, "{", "[");
  expect_load_error(dir, {"config.json"});
}

TEST(Checkpoint, FailedWriteLeavesThePreviousFolder) {
  auto root = test::make_temp_dir("replace");
  replace_folder_atomically(root / "ckpt", [](const fs::path& d) { write_file_atomically(d / "a", "good"); });
  EXPECT_THROW(replace_folder_atomically(root / "ckpt",
                                         [](const fs::path& d) {
                                           write_file_atomically(d / "a", "half");
                                           throw IoError("disk full");
                                         }),
               IoError);
  EXPECT_EQ(read_file(root / "ckpt" / "a"), "good");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(root)) ++entries;
  EXPECT_EQ(entries, 1);
}
