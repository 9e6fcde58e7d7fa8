// Reverse-mode automatic differentiation on a tape.
//
// A Graph records every operation applied to its values (Var handles) in creation order; calling
// backward(loss) walks the tape in reverse and lets each op add its input gradients. Typical use:
//
//   Graph<float> g;
//   Var x = g.input(batch);                          // constant leaf
//   Var w = g.parameter(store.value(i), store.grad(i));  // leaf over a ParameterStore slot
//   Var loss = mean(g, tanh(g, matmul(g, x, w)));
//   g.backward(loss);                                // adds into store.grad(i)
//   g.clear();                                       // next step reuses the Graph object
//
// Conventions: backward *adds* into gradient buffers; parameter gradients live outside the graph
// (in the ParameterStore) and the trainer zeroes them once per step. With grad disabled (no-grad
// mode, see NoGradGuard) ops record no backward closures and nothing requires a gradient.
//
// A graph carries the ComputeContext its ops run with (how many threads the recurrent stack, the
// fused head and the GEMMs may use): one thread unless given, `Graph<float> g(make_compute_context(0))`
// for all cores. Two graphs in one process may use different counts.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "recur/core/context.h"
#include "recur/core/tensor.h"

namespace recur {

// Handle to a value recorded in a Graph (an index into its tape).
struct Var {
  int32_t id = -1;
  [[nodiscard]] bool valid() const { return id >= 0; }
};

// Whether make_node zero-fills the new value. kUninitialized is for ops that write every element
// (a GEMM with beta 0, the recurrent stack's outputs): zero-filling megabytes that are overwritten
// right after is a real share of a small-hidden training step (bench/README.md).
enum class NodeInit { kZero, kUninitialized };

// A gradient buffer handed to an op for writing (Graph::grad_for_write). With accumulate false the
// buffer's contents are unspecified and the op must write every element (e.g. a GEMM with beta 0);
// with accumulate true earlier gradient is there and must be added to.
template <Scalar T>
struct GradSlot {
  T* data = nullptr;
  bool accumulate = true;
};

template <Scalar T>
class Graph {
 public:
  // Called during backward; reads its outputs' gradients and adds into its inputs' gradients.
  using BackwardFn = std::function<void(Graph&)>;

  // Throws ValueError unless context.threads is in [1, kMaxThreads].
  explicit Graph(ComputeContext context = {});
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // --- Leaves -------------------------------------------------------------------------------
  // A leaf owning a copy of `value`. With requires_grad, backward fills grad(v) for it.
  Var input(Tensor<T> value, bool requires_grad = false);
  // A leaf over external memory (a parameter): value is read in place and gradients are added
  // into `grad`, which must have the same shape. The memory must outlive the graph's use of it.
  Var parameter(TensorView<T> value, TensorView<T> grad);
  // A new constant leaf with v's value: gradients stop here (truncated BPTT detaches the state).
  Var detach(Var v);
  // A node of `shape` (same element count) sharing v's value and gradient storage: reshape
  // without copying. Gradient added through either handle reaches v's op.
  Var alias(Var v, const Shape& shape);

  // --- Access -------------------------------------------------------------------------------
  [[nodiscard]] const Shape& shape(Var v) const { return node(v).shape; }
  [[nodiscard]] T* value(Var v) { return node(v).value; }
  [[nodiscard]] const T* value(Var v) const { return node(v).value; }
  [[nodiscard]] TensorView<T> view(Var v) { return {node(v).value, node(v).shape}; }
  [[nodiscard]] Tensor<T> to_tensor(Var v) const;
  // The single element of a one-element value (a loss).
  [[nodiscard]] T item(Var v) const;
  [[nodiscard]] bool requires_grad(Var v) const { return node(v).requires_grad; }
  [[nodiscard]] bool has_grad(Var v) const { return node(v).grad != nullptr; }
  // Gradient buffer of v, allocated and zeroed on first use.
  T* grad(Var v);
  // Gradient buffer of v for an op that writes every element when nothing is there yet (see
  // GradSlot): saves zero-filling a buffer that is about to be overwritten.
  GradSlot<T> grad_for_write(Var v);
  [[nodiscard]] Tensor<T> grad_tensor(Var v) const;  // zeros when no gradient reached v

  // --- Recording (used by ops) ----------------------------------------------------------------
  // A new node of `shape` whose value the op fills in. It requires a gradient when grad mode is
  // on and any of `inputs` does.
  Var make_node(const Shape& shape, std::initializer_list<Var> inputs, NodeInit init = NodeInit::kZero);
  Var make_node(const Shape& shape, const std::vector<Var>& inputs, NodeInit init = NodeInit::kZero);
  // Attaches the backward closure of an op whose outputs are the `num_outputs` consecutive nodes
  // starting at `first`; it runs once, after every consumer of those outputs, if any received a
  // gradient.
  void set_backward(Var first, BackwardFn fn, int num_outputs = 1);

  // --- Running --------------------------------------------------------------------------------
  // Seeds d(loss)/d(loss) = 1 (loss must have one element) and runs the tape backwards. Call it
  // once per recorded graph: a second call would send the intermediate gradients through again.
  void backward(Var loss);
  // Forgets every node (keeps the Graph object for the next step). Node buffers are kept and
  // reused by the next tape, so a training loop that records the same ops each step stops
  // allocating after its first step.
  void clear();
  [[nodiscard]] size_t size() const { return used_; }

  [[nodiscard]] bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool enabled) { grad_enabled_ = enabled; }

  // --- Machine and scratch -----------------------------------------------------------------------
  // What the ops may use of the machine; ops read it when they are recorded (and their backward
  // uses what the forward saw).
  [[nodiscard]] const ComputeContext& context() const { return context_; }
  // Throws ValueError unless context.threads is in [1, kMaxThreads].
  void set_context(ComputeContext context);
  // An op's reusable scratch of type W (default-constructed on first use, one per type), kept for
  // the graph's life so that a training loop stops allocating. An op fills and reads it within one
  // forward or one backward call, never across them (another op call of the same type runs between).
  template <class W>
  W& scratch();

 private:
  struct Node {
    Shape shape;
    T* value = nullptr;  // into own_value, or external for parameters
    T* grad = nullptr;   // into own_grad, or external for parameters; null until used
    T* external_grad = nullptr;
    std::vector<T> own_value;  // [shape]; capacity (and size) kept from earlier tapes
    std::vector<T> own_grad;   // [shape], allocated lazily; likewise kept
    int32_t alias_of = -1;     // the node whose value and gradient this one shares (alias)
    bool requires_grad = false;
    int num_outputs = 1;  // outputs sharing this node's backward closure
    BackwardFn backward;
  };
  Node& node(Var v);
  const Node& node(Var v) const;
  Node& new_node();  // the next slot of the tape, reused from an earlier tape when there is one

  std::deque<Node> nodes_;  // deque: node addresses stay fixed while the tape grows
  size_t used_ = 0;         // nodes_[0, used_) are this tape's; the rest wait for reuse
  bool grad_enabled_ = true;
  ComputeContext context_;
  // scratch<W>() objects, keyed by W; shared_ptr<void> deletes each as its own type.
  std::vector<std::pair<std::type_index, std::shared_ptr<void>>> scratch_;
};

template <Scalar T>
template <class W>
W& Graph<T>::scratch() {
  const std::type_index key(typeid(W));
  for (auto& [type, object] : scratch_)
    if (type == key) return *static_cast<W*>(object.get());
  scratch_.emplace_back(key, std::make_shared<W>());
  return *static_cast<W*>(scratch_.back().second.get());
}

// Turns gradient recording off for its lifetime (inference), restoring the previous mode after.
template <Scalar T>
class NoGradGuard {
 public:
  explicit NoGradGuard(Graph<T>& g) : graph_(g), previous_(g.grad_enabled()) { g.set_grad_enabled(false); }
  ~NoGradGuard() { graph_.set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  Graph<T>& graph_;
  bool previous_;
};

}  // namespace recur
