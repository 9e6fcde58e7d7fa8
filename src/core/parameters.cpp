// Flat parameter storage with named slots.
#include "recur/core/parameters.h"

#include <algorithm>
#include <climits>

#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/core/name_list.h"

namespace recur {

template <Scalar T>
int ParameterStore<T>::add(const std::string& name, const Shape& shape) {
  check(!index_.contains(name), "ParameterStore::add: duplicate parameter name '" + name + "'");
  check(slots_.size() < static_cast<size_t>(INT_MAX), "ParameterStore::add: too many parameters");
  const auto offset = static_cast<int64_t>(values_.size());
  const int64_t end = checked_add(offset, shape.numel(), "ParameterStore::add: values after '" + name + "'");
  values_.resize(static_cast<size_t>(end), T(0));
  grads_.resize(values_.size(), T(0));
  slots_.push_back(Slot{name, shape, offset});
  const int index = static_cast<int>(slots_.size() - 1);
  index_.emplace(name, index);
  return index;
}

template <Scalar T>
std::optional<int> ParameterStore<T>::find(const std::string& name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

template <Scalar T>
int ParameterStore<T>::index_of(const std::string& name) const {
  if (auto i = find(name)) return *i;
  const std::string known = list_names(slots_.size(), [&](size_t i) { return slots_[i].name; });
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
