// Flat parameter storage with named slots.
#include "recur/core/parameters.h"

#include <algorithm>

#include "recur/core/error.h"

namespace recur {

template <Scalar T>
int ParameterStore<T>::add(const std::string& name, const Shape& shape) {
  check(!find(name).has_value(), "ParameterStore::add: duplicate parameter name '" + name + "'");
  const auto offset = static_cast<int64_t>(values_.size());
  slots_.push_back(Slot{name, shape, offset});
  values_.resize(values_.size() + static_cast<size_t>(shape.numel()), T(0));
  grads_.resize(values_.size(), T(0));
  return static_cast<int>(slots_.size() - 1);
}

template <Scalar T>
std::optional<int> ParameterStore<T>::find(const std::string& name) const {
  for (size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].name == name) return static_cast<int>(i);
  return std::nullopt;
}

template <Scalar T>
int ParameterStore<T>::index_of(const std::string& name) const {
  if (auto i = find(name)) return *i;
  std::string known;
  for (const auto& s : slots_) known += (known.empty() ? "" : ", ") + s.name;
  throw ValueError("ParameterStore: no parameter named '" + name + "' (known: " + known + ")");
}

template <Scalar T>
TensorView<T> ParameterStore<T>::value(int index) {
  const Slot& s = slot(index);
  return {values_.data() + s.offset, s.shape};
}

template <Scalar T>
TensorView<T> ParameterStore<T>::grad(int index) {
  const Slot& s = slot(index);
  return {grads_.data() + s.offset, s.shape};
}

template <Scalar T>
void ParameterStore<T>::zero_grads() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template class ParameterStore<float>;
template class ParameterStore<double>;

}  // namespace recur
