// clip_grad_norm: torch.nn.utils.clip_grad_norm_ over several tensors held in one flat array.
#include <gtest/gtest.h>

#include "recur/core/parameters.h"
#include "recur/optim/grad_clip.h"
#include "vector_checks.h"

namespace recur::test {

void check_clip_grad_norm(const nlohmann::json& j, const std::string& file) {
  int case_index = 0;
  for (const auto& c : j.at("cases")) {
    const std::string tag = file + " case " + std::to_string(case_index++);
    ParameterStore<double> store;  // the gradients of several parameters, flat as in training
    std::vector<int> slots;
    for (const auto& t : c.at("grads_before")) {
      auto tensor = read_tensor(t);
      std::string name = "p";  // not "p" + to_string(...): GCC 12 warns falsely there (-Wrestrict)
      name += std::to_string(slots.size());
      slots.push_back(store.add(name, tensor.shape()));
      std::copy(tensor.span().begin(), tensor.span().end(), store.grad(slots.back()).data);
    }
    const double total = clip_grad_norm(store.grads(), c.at("max_norm").get<double>());
    EXPECT_NEAR(total, c.at("total_norm").get<double>(), 1e-12 * c.at("total_norm").get<double>()) << tag;
    for (size_t i = 0; i < slots.size(); ++i) {
      auto view = store.grad(slots[i]);
      Tensor<double> after(view.shape, std::vector<double>(view.span().begin(), view.span().end()));
      expect_tensor_near(after, read_tensor(c.at("grads_after")[i]), 1e-12,
                         tag + " grads_after[" + std::to_string(i) + "]");
    }
  }
}

}  // namespace recur::test
