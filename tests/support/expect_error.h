// Checking the kind and the words of an error: the message of the E that a call throws.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace recur::test {

// The message of the E that f() throws; a test failure and "" when it throws nothing.
template <typename E, typename F>
std::string message_of_error(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

// f() throws E whose message holds every one of `words`.
template <typename E, typename F>
void expect_error_words(F&& f, std::initializer_list<std::string> words) {
  const std::string message = message_of_error<E>(f);
  for (const auto& w : words)
    EXPECT_NE(message.find(w), std::string::npos) << "'" << w << "' missing: " << message;
}

}  // namespace recur::test
