// Owning tensor: construction checks and reshaping.
#include "recur/core/tensor.h"

#include <algorithm>

#include "recur/core/error.h"

namespace recur {

template <Scalar T>
Tensor<T>::Tensor(Shape shape, std::vector<T> data) : shape_(shape), data_(std::move(data)) {
  check<ShapeError>(static_cast<int64_t>(data_.size()) == shape_.numel(),
                    "Tensor: shape " + shape_.str() + " needs " + std::to_string(shape_.numel()) +
                        " elements, got " + std::to_string(data_.size()));
}

template <Scalar T>
void Tensor<T>::reshape(Shape shape) {
  check<ShapeError>(shape.numel() == shape_.numel(),
                    "Tensor::reshape: cannot view " + shape_.str() + " as " + shape.str());
  shape_ = shape;
}

template <Scalar T>
void Tensor<T>::fill(T value) {
  std::fill(data_.begin(), data_.end(), value);
}

template class Tensor<float>;
template class Tensor<double>;

}  // namespace recur
