// Run folders: every intermediate state a killed checkpoint swap can leave, built by hand, is
// repaired to the last complete folder; the lock refuses a second holder; a new run never replaces
// an earlier one unless asked to.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/run.h"
#include "recur/lm/run_folder.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {
// A process id above any pid_max: never alive.
const std::string kDead = "2000000000";

// A checkpoint folder holding `tag`; complete (train_state.json written last) or not.
void make_checkpoint(const fs::path& dir, const std::string& tag, bool complete = true) {
  fs::create_directories(dir);
  write_file_atomically(dir / "model.safetensors", tag);
  write_file_atomically(dir / "config.json", tag);
  if (complete) write_file_atomically(dir / "train_state.json", tag);
}

std::string tag_of(const fs::path& dir) { return read_file(dir / "model.safetensors"); }

int count_entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST(RunFolderRecovery, EveryIntermediateStateOfASwapIsRepaired) {
  const auto root = test::make_temp_dir("recover");
  struct Case {
    const char* name;
    bool target, tmp, tmp_complete, old;
    const char* expected;  // tag of checkpoint/ afterwards; "" = none
  };
  const Case cases[] = {
      {"writing the new one", true, true, false, false, "target"},
      {"after the exchange", true, true, true, false, "target"},
      {"moved aside, new one complete", false, true, true, true, "tmp"},
      {"moved aside, new one partial", false, true, false, true, "old"},
      {"renamed in, old not removed", true, false, false, true, "target"},
      {"first checkpoint complete", false, true, true, false, "tmp"},
      {"first checkpoint partial", false, true, false, false, ""},
  };
  for (const Case& c : cases) {
    const fs::path dir = root / c.name;
    fs::create_directories(dir);
    if (c.target) make_checkpoint(dir / "checkpoint", "target");
    if (c.tmp) make_checkpoint(dir / ("checkpoint.tmp-" + kDead), "tmp", c.tmp_complete);
    if (c.old) make_checkpoint(dir / ("checkpoint.old-" + kDead), "old");
    write_file_atomically(dir / "run.json", "{}");
    write_file_atomically(dir / ("metrics.csv.tmp-" + kDead), "half");
    const auto repairs = recover_run_folder(dir);
    EXPECT_FALSE(repairs.empty()) << c.name;
    if (*c.expected) {
      ASSERT_TRUE(fs::exists(dir / "checkpoint" / "train_state.json")) << c.name;
      EXPECT_EQ(tag_of(dir / "checkpoint"), c.expected) << c.name;
    } else {
      EXPECT_FALSE(fs::exists(dir / "checkpoint")) << c.name;
    }
    EXPECT_EQ(count_entries(dir), *c.expected ? 2 : 1) << c.name;  // run.json (+ checkpoint/)
  }
}

TEST(RunFolderRecovery, StaleFilesInsideModelFoldersGoAndLiveOnesStay) {
  const auto dir = test::make_temp_dir("recover-files");
  make_checkpoint(dir / "checkpoint", "target");
  write_file_atomically(dir / "checkpoint" / ("config.json.tmp-" + kDead), "half");
  const std::string live = std::to_string(::getppid());
  make_checkpoint(dir / ("best.tmp-" + live), "live");
  (void)recover_run_folder(dir);
  EXPECT_FALSE(fs::exists(dir / "checkpoint" / ("config.json.tmp-" + kDead)));
  EXPECT_TRUE(fs::exists(dir / ("best.tmp-" + live)));  // another process is still writing it
  EXPECT_FALSE(fs::exists(dir / "best"));
}

TEST(RunFolderRecovery, ModelLookupRepairsAnIdleRunFolder) {
  const auto dir = test::make_temp_dir("recover-lookup");
  write_file_atomically(dir / "run.json", "{}");
  make_checkpoint(dir / ("checkpoint.tmp-" + kDead), "tmp");
  make_checkpoint(dir / ("checkpoint.old-" + kDead), "old");
  EXPECT_EQ(find_model_folder(dir), dir / "checkpoint");
  EXPECT_EQ(tag_of(dir / "checkpoint"), "tmp");
}

TEST(RunFolderLock, ASecondHolderIsRefusedWithTheFirstOnesPid) {
  const auto dir = test::make_temp_dir("lock");
  {
    RunFolderLock first(dir);
    try {
      RunFolderLock second(dir);
      FAIL() << "expected IoError";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find("in use by process " + std::to_string(::getpid())),
                std::string::npos)
          << e.what();
    }
    EXPECT_EQ(RunFolderLock::try_lock(dir), nullptr);
  }
  EXPECT_NE(RunFolderLock::try_lock(dir), nullptr);  // released with the first
}

TEST(RunFolderReplace, SwapKeepsTheOldFolderUntilTheNewOneIsWhole) {
  const auto root = test::make_temp_dir("swap");
  replace_folder_atomically(root / "checkpoint", [](const fs::path& d) { make_checkpoint(d, "one"); });
  replace_folder_atomically(root / "checkpoint", [](const fs::path& d) { make_checkpoint(d, "two"); });
  EXPECT_EQ(tag_of(root / "checkpoint"), "two");
  EXPECT_EQ(count_entries(root), 1);
}

TEST(TrainingRunFolder, ANewRunNeverReplacesAnEarlierOneUnlessAsked) {
  const auto dir = test::make_temp_dir("run-exists");
  {
    std::ofstream out(dir / "tiny.txt");
    for (int i = 0; i < 40; ++i) out << "the time traveller said the time machine was ready\n";
  }
  RunSettings s;
  s.data = (dir / "tiny.txt").string();
  s.hidden_size = 8;
  s.train = {.batch = 4, .steps = 10, .epochs = 1, .out_dir = dir / "out"};
  {
    TrainingRun run(s);
    run.save_settings();
    (void)run.train();
  }
  const std::string best_before = read_file(dir / "out" / "best" / "model.safetensors");
  TrainingRun again(s);
  EXPECT_THROW(again.save_settings(), RunExistsError);
  EXPECT_EQ(read_file(dir / "out" / "best" / "model.safetensors"), best_before);
  EXPECT_THROW(TrainingRun{s}, IoError);  // `again` holds the folder's lock
  again.save_settings(ExistingRun::kReplace);
  EXPECT_FALSE(fs::exists(dir / "out" / "best"));
  EXPECT_TRUE(fs::exists(dir / "out" / "run.json"));
}

TEST(TrainingRunFolder, TrainingThatCannotFitInMemoryIsRefusedByName) {
  RunSettings s;
  s.data = "unused";
  s.train.out_dir = "unused";
  s.hidden_size = 1 << 23;
  try {
    check_training_fits(s, 30);
    FAIL() << "expected OptionError";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.field(), "hidden_size");
    EXPECT_NE(std::string(e.what()).find("needs about"), std::string::npos) << e.what();
  }
  s.hidden_size = 16;
  s.train.batch = 1 << 30;
  s.train.steps = 1 << 30;
  try {
    check_training_fits(s, 30);
    FAIL() << "expected OptionError";
  } catch (const OptionError& e) {
    EXPECT_EQ(e.field(), "batch");
  }
  s.train.batch = 4;
  s.train.steps = 10;
  EXPECT_NO_THROW(check_training_fits(s, 30));
}
