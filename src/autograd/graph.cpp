// The tape: node storage, lazy gradient buffers and the reverse sweep.
#include "recur/autograd/graph.h"

#include <algorithm>
#include <string>

#include "recur/core/error.h"

namespace recur {

template <Scalar T>
Graph<T>::Graph(ComputeContext context) {
  set_context(context);
}

template <Scalar T>
void Graph<T>::set_context(ComputeContext context) {
  check_compute_context(context, "Graph");
  context_ = context;
}

template <Scalar T>
typename Graph<T>::Node& Graph<T>::node(Var v) {
  // The message is built only on failure: every value/grad/shape access passes through here.
  if (v.id < 0 || static_cast<size_t>(v.id) >= used_) [[unlikely]] {
    check<Error>(false, "Graph: Var " + std::to_string(v.id) + " does not belong to this graph (size " +
                            std::to_string(used_) + ")");
  }
  return nodes_[static_cast<size_t>(v.id)];
}

template <Scalar T>
const typename Graph<T>::Node& Graph<T>::node(Var v) const {
  return const_cast<Graph*>(this)->node(v);
}

template <Scalar T>
typename Graph<T>::Node& Graph<T>::new_node() {
  if (used_ == nodes_.size()) nodes_.emplace_back();
  Node& n = nodes_[used_++];
  // A slot from an earlier step keeps its buffers' capacity (so a repeated tape does not
  // allocate); everything else starts fresh.
  n.shape = Shape{};
  n.value = n.grad = n.external_grad = nullptr;
  n.alias_of = -1;
  n.requires_grad = false;
  n.num_outputs = 1;
  n.backward = nullptr;
  return n;
}

template <Scalar T>
Var Graph<T>::input(Tensor<T> value, bool requires_grad) {
  Node& n = new_node();
  n.shape = value.shape();
  n.own_value.assign(value.span().begin(), value.span().end());
  n.value = n.own_value.data();
  n.requires_grad = requires_grad && grad_enabled_;
  return Var{static_cast<int32_t>(used_ - 1)};
}

template <Scalar T>
Var Graph<T>::parameter(TensorView<T> value, TensorView<T> grad) {
  check<ShapeError>(value.shape == grad.shape, "Graph::parameter: value shape " + value.shape.str() +
                                                   " differs from grad shape " + grad.shape.str());
  Node& n = new_node();
  n.shape = value.shape;
  n.value = value.data;
  n.external_grad = grad.data;
  n.requires_grad = grad_enabled_;
  return Var{static_cast<int32_t>(used_ - 1)};
}

template <Scalar T>
Var Graph<T>::detach(Var v) {
  Node& src = node(v);
  Node& n = new_node();
  n.shape = src.shape;
  n.own_value.assign(src.value, src.value + src.shape.numel());
  n.value = n.own_value.data();
  return Var{static_cast<int32_t>(used_ - 1)};
}

template <Scalar T>
Var Graph<T>::alias(Var v, const Shape& shape) {
  Node& src = node(v);
  check<ShapeError>(
      shape.numel() == src.shape.numel(),
      "Graph::alias: cannot view " + src.shape.str() + " as " + shape.str() + " (different element counts)");
  const T* value = src.value;
  const bool requires_grad = src.requires_grad;
  const int32_t root = src.alias_of >= 0 ? src.alias_of : v.id;
  Node& n = new_node();  // may grow the deque: `src` is not used after this
  n.shape = shape;
  n.value = const_cast<T*>(value);
  n.alias_of = root;
  n.requires_grad = requires_grad;
  return Var{static_cast<int32_t>(used_ - 1)};
}

template <Scalar T>
Tensor<T> Graph<T>::to_tensor(Var v) const {
  const Node& n = node(v);
  return Tensor<T>(n.shape, std::vector<T>(n.value, n.value + n.shape.numel()));
}

template <Scalar T>
T Graph<T>::item(Var v) const {
  const Node& n = node(v);
  check<ShapeError>(n.shape.numel() == 1,
                    "Graph::item: value of shape " + n.shape.str() + " is not a scalar");
  return n.value[0];
}

template <Scalar T>
T* Graph<T>::grad(Var v) {
  GradSlot<T> slot = grad_for_write(v);
  if (!slot.accumulate) std::fill_n(slot.data, node(v).shape.numel(), T(0));
  return slot.data;
}

template <Scalar T>
GradSlot<T> Graph<T>::grad_for_write(Var v) {
  Node& n = node(v);
  if (n.grad != nullptr) return {n.grad, true};
  if (n.alias_of >= 0) {
    const GradSlot<T> slot = grad_for_write(Var{n.alias_of});
    node(v).grad = slot.data;
    return slot;
  }
  if (n.external_grad != nullptr) {
    n.grad = n.external_grad;
    return {n.grad, true};
  }
  // resize keeps the buffer from an earlier tape as it is (no fill) when the size matches.
  n.own_grad.resize(static_cast<size_t>(n.shape.numel()));
  n.grad = n.own_grad.data();
  return {n.grad, false};
}

template <Scalar T>
Tensor<T> Graph<T>::grad_tensor(Var v) const {
  const Node& n = node(v);
  if (n.grad == nullptr) return Tensor<T>(n.shape);
  return Tensor<T>(n.shape, std::vector<T>(n.grad, n.grad + n.shape.numel()));
}

template <Scalar T>
Var Graph<T>::make_node(const Shape& shape, std::initializer_list<Var> inputs, NodeInit init) {
  bool needs_grad = false;
  if (grad_enabled_)
    for (Var in : inputs) needs_grad = needs_grad || node(in).requires_grad;
  Node& n = new_node();
  n.shape = shape;
  n.own_value.resize(static_cast<size_t>(shape.numel()));
  if (init == NodeInit::kZero) std::fill(n.own_value.begin(), n.own_value.end(), T(0));
  n.value = n.own_value.data();
  n.requires_grad = needs_grad;
  return Var{static_cast<int32_t>(used_ - 1)};
}

template <Scalar T>
Var Graph<T>::make_node(const Shape& shape, const std::vector<Var>& inputs, NodeInit init) {
  bool needs_grad = false;
  if (grad_enabled_)
    for (Var in : inputs) needs_grad = needs_grad || node(in).requires_grad;
  Var out = make_node(shape, {}, init);
  node(out).requires_grad = needs_grad;
  return out;
}

template <Scalar T>
void Graph<T>::set_backward(Var first, BackwardFn fn, int num_outputs) {
  Node& n = node(first);
  if (!n.requires_grad) return;  // nothing upstream wants a gradient
  check<Error>(first.id + num_outputs <= static_cast<int32_t>(used_),
               "Graph::set_backward: outputs past the tape");
  n.backward = std::move(fn);
  n.num_outputs = num_outputs;
}

template <Scalar T>
void Graph<T>::backward(Var loss) {
  Node& l = node(loss);
  check<ShapeError>(l.shape.numel() == 1,
                    "Graph::backward: loss of shape " + l.shape.str() + " is not a scalar");
  check<Error>(l.requires_grad,
               "Graph::backward: the loss does not depend on anything that requires a gradient");
  grad(loss)[0] += T(1);
  for (int32_t id = loss.id; id >= 0; --id) {
    Node& n = nodes_[static_cast<size_t>(id)];
    if (!n.backward) continue;
    bool reached = false;
    for (int k = 0; k < n.num_outputs; ++k)
      reached = reached || nodes_[static_cast<size_t>(id + k)].grad != nullptr;
    if (reached) n.backward(*this);
  }
}

template <Scalar T>
void Graph<T>::clear() {
  // Release the backward closures now (they hold workspaces that other graphs may reuse); keep
  // the nodes' buffers for the next tape.
  for (size_t i = 0; i < used_; ++i) nodes_[i].backward = nullptr;
  used_ = 0;
}

template class Graph<float>;
template class Graph<double>;

}  // namespace recur
