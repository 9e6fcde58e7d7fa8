// Fuzz target: a token file (recur prepare's train.bin) opened through its memory map. Whatever the
// header claims, opening either fails with a recur error or gives a view whose every id lies in
// the vocabulary and whose size matches the file.
#include <fstream>

#include "fuzz_files.h"
#include "fuzz_support.h"
#include "recur/text/token_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = recur::fuzz::scratch_dir() / "train.bin";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  recur::fuzz::expect_recur_errors_only([&] {
    const recur::MappedTokenFile file(path);
    const recur::TokenView ids = file.view();
    if (static_cast<uint64_t>(recur::kTokenFileHeaderBytes + ids.size() * file.width()) != size)
      __builtin_trap();
    for (int64_t i = 0; i < ids.size(); ++i)
      if (ids[i] < 0 || ids[i] >= file.vocab_size()) __builtin_trap();
  });
  return 0;
}
