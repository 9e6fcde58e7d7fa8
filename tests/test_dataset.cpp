// Dataset lookup: RECUR_DATA folders, names, and the message for a missing file.
#include <gtest/gtest.h>

#include <fstream>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "test_support.h"

using namespace recur;

TEST(Dataset, FindsKnownNameInGivenFolders) {
  auto dir = test::make_temp_dir("dataset");
  std::ofstream(dir / "timemachine.txt") << "the time machine\n";
  EXPECT_EQ(resolve_dataset("timemachine", std::vector<std::filesystem::path>{dir / "nowhere", dir}),
            dir / "timemachine.txt");
}

TEST(Dataset, ExistingPathIsReturnedAsIs) {
  auto dir = test::make_temp_dir("dataset");
  std::ofstream(dir / "mine.txt") << "x";
  EXPECT_EQ(resolve_dataset((dir / "mine.txt").string(), std::vector<std::filesystem::path>{}),
            dir / "mine.txt");
}

TEST(Dataset, MissingDatasetSaysWhereItLookedAndWhatItExpected) {
  auto dir = test::make_temp_dir("dataset");
  try {
    (void)resolve_dataset("tinyshakespeare", std::vector<std::filesystem::path>{dir});
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find((dir / "tinyshakespeare.txt").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("86c4e6aa9db7c042"), std::string::npos) << msg;
    EXPECT_NE(msg.find("char-rnn"), std::string::npos) << msg;
  }
}

TEST(Dataset, UnknownNameListsKnownNames) {
  try {
    (void)resolve_dataset("no-such-corpus", std::vector<std::filesystem::path>{});
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("timemachine"), std::string::npos);
  }
}

TEST(Dataset, SharedDataHasEveryKnownDataset) {
  for (const auto& d : known_datasets())
    EXPECT_NO_THROW(
        (void)resolve_dataset(d.name, std::vector<std::filesystem::path>{test::shared_data_dir()}))
        << d.name;
}

// A directory or a device given where a data file belongs is called what it is.
TEST(Dataset, DirectoryOrDeviceIsNamedAsSuch) {
  const auto dir = test::make_temp_dir("dataset");
  test::expect_error_words<IoError>([&] { (void)resolve_dataset(dir.string(), {}); },
                                    {dir.string(), "is a directory, not a data file"});
  test::expect_error_words<IoError>([] { (void)resolve_dataset("/dev/null", {}); },
                                    {"/dev/null", "character device"});
}
