// `recur train` under mpirun (built with MPI only): two processes with half the batch each train the
// model one process trains with the whole batch, and a process that dies ends the job within a
// bounded time, leaving the last checkpoint loadable. Open MPI on loopback, as root if need be.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "recur/io/atomic_file.h"
#include "recur/lm/checkpoint.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {

// Two processes on this machine over TCP loopback, whatever the cores and the user.
std::string mpirun_two() {
  return std::string(RECUR_MPIEXEC) +
         " --allow-run-as-root --oversubscribe -np 2 --mca btl self,tcp --mca btl_tcp_if_include lo"
         " --mca oob_tcp_if_include lo";
}

fs::path tiny_text(const fs::path& dir) {
  std::ofstream out(dir / "tiny.txt");
  for (int i = 0; i < 40; ++i) out << "the time traveller said the time machine was ready " << i % 7 << "\n";
  return dir / "tiny.txt";
}

std::string train_args(const fs::path& data, const fs::path& out, int epochs = 2) {
  return "--threads 1 train --data " + test::shell_quoted(data) +
         " --hidden 16 --batch 4 --steps 10 --optimizer adam --lr 0.01 --clip 0.5 --sample-length 0 "
         "--epochs " +
         std::to_string(epochs) + " --out " + test::shell_quoted(out);
}

// metrics.csv's train and validation perplexities, epoch by epoch.
std::vector<double> perplexities(const fs::path& run) {
  std::istringstream csv(read_file(run / "metrics.csv"));
  std::string line;
  std::getline(csv, line);  // header
  std::vector<double> values;
  while (std::getline(csv, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int column = 0; std::getline(fields, field, ','); ++column)
      if (column == 2 || column == 3) values.push_back(std::stod(field));
  }
  return values;
}

}  // namespace

TEST(MpiTraining, TwoProcessesWithHalfTheBatchTrainAsOneWithTheWholeBatch) {
  const fs::path dir = test::make_temp_dir("mpi_equal");
  const fs::path data = tiny_text(dir);
  const auto one = test::run_cli(train_args(data, dir / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto two = test::run_cli(train_args(data, dir / "two"), mpirun_two());
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("processes: 2, 2 rows of each batch and 1 thread(s) each"), std::string::npos)
      << two.output;
  EXPECT_NE(two.output.find("all-reduce: "), std::string::npos) << two.output;

  const std::vector<double> p1 = perplexities(dir / "one"), p2 = perplexities(dir / "two");
  ASSERT_EQ(p1.size(), 4u);
  ASSERT_EQ(p2.size(), p1.size());
  for (size_t i = 0; i < p1.size(); ++i) EXPECT_NEAR(p2[i], p1[i], 1e-5 * p1[i]) << "value " << i;
  const LoadedModel m1 = load_model(dir / "one" / "checkpoint"), m2 = load_model(dir / "two" / "checkpoint");
  const auto w1 = m1.model->parameters().values(), w2 = m2.model->parameters().values();
  ASSERT_EQ(w1.size(), w2.size());
  for (size_t i = 0; i < w1.size(); ++i)
    ASSERT_LE(std::abs(w2[i] - w1[i]), 1e-4 * (1 + std::abs(w1[i]))) << "weight " << i;

  // Either kind of run resumes on the other.
  const auto more = test::run_cli(
      "--threads 1 train --resume " + test::shell_quoted(dir / "one") + " --epochs 3", mpirun_two());
  ASSERT_EQ(more.exit_code, 0) << more.output;
  EXPECT_NE(more.output.find("resumed from"), std::string::npos) << more.output;
  EXPECT_EQ(perplexities(dir / "one").size(), 6u);
}

TEST(MpiTraining, AProcessKilledEndsTheJobAndTheLastCheckpointStillLoads) {
  const fs::path dir = test::make_temp_dir("mpi_kill");
  const fs::path data = tiny_text(dir), out = dir / "run";
  // Training without end; once a checkpoint exists, the newest process of the job (rank 1) gets
  // SIGKILL and mpirun must end the job, under `timeout` so that a hang fails rather than stalls.
  std::string script = "timeout 60 " + mpirun_two() + " " + test::shell_quoted(test::cli_path()) + " " +
                       train_args(data, out, 100000) + " > " + test::shell_quoted(dir / "job.log") +
                       " 2>&1 & job=$!\n" + "for i in $(seq 300); do [ -f " +
                       test::shell_quoted(out / "checkpoint" / "train_state.json") +
                       " ] && break; sleep 0.1; done\n"
                       "rank=$(pgrep -n -P $(pgrep -P $job))\n"
                       "kill -9 $rank; start=$(date +%s%N); wait $job; code=$?\n"
                       "echo \"$code $(( ($(date +%s%N) - start) / 1000000 ))\" > " +
                       test::shell_quoted(dir / "result.txt");
  write_file_atomically(dir / "kill.sh", script);
  ASSERT_EQ(std::system(("bash " + test::shell_quoted(dir / "kill.sh")).c_str()), 0);
  std::istringstream result(read_file(dir / "result.txt"));
  int code = -1;
  long milliseconds = -1;
  result >> code >> milliseconds;
  const std::string log = read_file(dir / "job.log");
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, 124) << "mpirun did not end the job within 60 s\n" << log;
  EXPECT_LT(milliseconds, 20000) << log;

  const auto eval =
      test::run_cli("--threads 1 eval --model " + test::shell_quoted(out) + " " + test::shell_quoted(data));
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
}
