// Checkers for the PyTorch reference vectors (../shared/vectors, see its README), one per `kind`.
// test_vectors.cpp dispatches every *.json in RECUR_VECTORS to the checker of its kind.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "recur/core/tensor.h"

namespace recur::test {

// {"shape": [...], "data": nested lists} -> Tensor<double> (row-major).
Tensor<double> read_tensor(const nlohmann::json& j);

// Each checker uses gtest assertions; `file` names the vector file in failure messages.
void check_charlm_head(const nlohmann::json& j, const std::string& file);
void check_clip_grad_norm(const nlohmann::json& j, const std::string& file);
void check_rnn_layer(const nlohmann::json& j, const std::string& file);
void check_charlm_step(const nlohmann::json& j, const std::string& file);

// Expects |a - e| <= rtol * max(|e|, 1) elementwise; reports the first differing index.
void expect_tensor_near(const Tensor<double>& actual, const Tensor<double>& expected, double rtol,
                        const std::string& what);

}  // namespace recur::test
