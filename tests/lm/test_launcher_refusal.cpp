// Built without MPI, `recur train` started as one of several processes by a launcher refuses,
// naming the variable, rather than training one copy of the model per process.
#include <gtest/gtest.h>

#include <fstream>

#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

TEST(LauncherRefusal, TrainUnderALauncherWithoutMpiSaysSo) {
  const fs::path dir = test::make_temp_dir("launcher");
  {
    std::ofstream out(dir / "tiny.txt");
    for (int i = 0; i < 40; ++i) out << "the time traveller said the time machine was ready\n";
  }
  const std::string args = "--threads 1 train --data " + test::shell_quoted(dir / "tiny.txt") +
                           " --hidden 8 --epochs 1 --sample-length 0 --out " +
                           test::shell_quoted(dir / "run");
  for (const std::string launcher : {"OMPI_COMM_WORLD_SIZE=2", "PMIX_RANK=1", "SLURM_STEP_NUM_TASKS=4"}) {
    const auto r = test::run_cli(args, launcher);
    EXPECT_EQ(r.exit_code, 1) << launcher << "\n" << r.output;
    EXPECT_NE(r.output.find("built without MPI"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(launcher.substr(0, launcher.find('='))), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir / "run" / "checkpoint"));
  }
  // One process of one is no job: it trains.
  const auto alone = test::run_cli(args, "OMPI_COMM_WORLD_SIZE=1");
  EXPECT_EQ(alone.exit_code, 0) << alone.output;
}
