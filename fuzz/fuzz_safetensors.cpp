// Fuzz target: safetensors decoding (header JSON, dtypes, shapes, offsets), then re-encoding
// what was accepted, which must decode to the same tensors.
#include "fuzz_support.h"
#include "recur/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  recur::fuzz::expect_recur_errors_only([&] {
    const std::string bytes(recur::fuzz::as_text(data, size));
    const auto tensors = recur::decode_safetensors(bytes, "fuzz.safetensors");
    const std::string again = recur::encode_safetensors(tensors);
    const auto round_trip = recur::decode_safetensors(again, "re-encoded");
    if (round_trip.size() != tensors.size()) __builtin_trap();
  });
  return 0;
}
