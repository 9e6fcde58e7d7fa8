// Reading tensors from the reference-vector JSON and comparing them with a located report.
#include <gtest/gtest.h>

#include <cmath>

#include "vector_checks.h"

namespace recur::test {

namespace {
void flatten(const nlohmann::json& j, std::vector<double>& out) {
  if (j.is_array()) {
    for (const auto& e : j) flatten(e, out);
  } else {
    out.push_back(j.get<double>());
  }
}
}  // namespace

Tensor<double> read_tensor(const nlohmann::json& j) {
  Shape shape;
  for (const auto& d : j.at("shape")) shape.push_back(d.get<int64_t>());
  std::vector<double> data;
  flatten(j.at("data"), data);
  return Tensor<double>(shape, std::move(data));
}

void expect_tensor_near(const Tensor<double>& actual, const Tensor<double>& expected, double rtol,
                        const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape())
      << what << ": shape " << actual.shape().str() << " vs expected " << expected.shape().str();
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double err = std::abs(actual[i] - expected[i]);
    if (!(err <= rtol * std::max(std::abs(expected[i]), 1.0))) {
      ADD_FAILURE() << what << ": first difference at flat index " << i << ": got " << actual[i]
                    << ", expected " << expected[i] << " (rtol " << rtol << ")";
      return;
    }
  }
}

}  // namespace recur::test
