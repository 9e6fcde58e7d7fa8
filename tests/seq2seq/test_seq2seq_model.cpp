// The encoder-decoder: d2l's parameter names and shapes, teacher forcing against step-by-step
// decoding, independence from padding and batch company, a float gradient check of the whole
// model, and the checkpoint folder.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "expect_error.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/seq2seq/decoding.h"
#include "recur/seq2seq/seq2seq_checkpoint.h"
#include "test_support.h"

using namespace recur;
namespace fs = std::filesystem;

namespace {

struct Variant {
  const char* name;
  CellType cell;
  bool bidirectional;
  AttentionKind attention;
  int layers;
};
const Variant kVariants[] = {
    {"gru", CellType::kGru, false, AttentionKind::kNone, 2},
    {"lstm_bidirectional", CellType::kLstm, true, AttentionKind::kNone, 2},
    {"gru_attention", CellType::kGru, false, AttentionKind::kBahdanau, 2},
    {"lstm_bidirectional_attention", CellType::kLstm, true, AttentionKind::kBahdanau, 1},
    {"rnn_attention", CellType::kRnnTanh, false, AttentionKind::kBahdanau, 1},
};

Seq2SeqConfig small_config(const Variant& v) {
  return {.cell = v.cell,
          .num_layers = v.layers,
          .hidden_size = 5,
          .embedding_size = 4,
          .dropout = 0,
          .bidirectional = v.bidirectional,
          .attention = v.attention,
          .source_vocab_size = 9,
          .target_vocab_size = 7};
}

std::unique_ptr<Seq2SeqModel> make_model(const Variant& v, uint64_t seed = 3) {
  auto model = std::make_unique<Seq2SeqModel>(small_config(v));
  Rng rng(seed);
  model->reset_parameters(rng);
  return model;
}

// A batch in the model's layout from per-row sources (sorted longest first) and decoder inputs of
// equal length; targets are the inputs shifted left, masked past each row's `target_lengths`.
struct Batch {
  int64_t B = 0, Ts = 0, Tt = 0;
  std::vector<int32_t> source, decoder_input, target;
  std::vector<int64_t> lengths;
  std::vector<float> mask;
  [[nodiscard]] Seq2SeqBatchView view() const {
    return {.batch = B,
            .source_steps = Ts,
            .target_steps = Tt,
            .source = source,
            .source_lengths = lengths,
            .decoder_input = decoder_input,
            .target = target,
            .target_mask = mask};
  }
};

Batch make_batch(const std::vector<std::vector<int32_t>>& sources,
                 const std::vector<std::vector<int32_t>>& inputs, int64_t padded_source_steps = 0) {
  Batch b;
  b.B = static_cast<int64_t>(sources.size());
  for (const auto& s : sources) b.Ts = std::max<int64_t>(b.Ts, static_cast<int64_t>(s.size()));
  b.Ts = std::max(b.Ts, padded_source_steps);
  b.Tt = static_cast<int64_t>(inputs[0].size());
  b.source.assign(static_cast<size_t>(b.Ts * b.B), 1);
  b.decoder_input.assign(static_cast<size_t>(b.Tt * b.B), 1);
  b.target.assign(b.decoder_input.size(), 1);
  b.mask.assign(b.decoder_input.size(), 1);
  for (int64_t r = 0; r < b.B; ++r) {
    const auto& s = sources[static_cast<size_t>(r)];
    b.lengths.push_back(static_cast<int64_t>(s.size()));
    for (size_t t = 0; t < s.size(); ++t)
      b.source[t * static_cast<size_t>(b.B) + static_cast<size_t>(r)] = s[t];
    for (int64_t t = 0; t < b.Tt; ++t) {
      b.decoder_input[static_cast<size_t>(t * b.B + r)] =
          inputs[static_cast<size_t>(r)][static_cast<size_t>(t)];
      b.target[static_cast<size_t>(t * b.B + r)] =
          t + 1 < b.Tt ? inputs[static_cast<size_t>(r)][static_cast<size_t>(t + 1)] : 3;
    }
  }
  return b;
}

const std::vector<std::vector<int32_t>> kSources{{4, 5, 6, 7, 3}, {8, 4, 3}, {5, 3}};
const std::vector<std::vector<int32_t>> kInputs{{2, 4, 5, 6}, {2, 6, 6, 5}, {2, 3, 4, 1}};

}  // namespace

TEST(Seq2SeqModel, ParameterNamesAreD2lStateDictNames) {
  const Seq2SeqConfig gru = small_config(kVariants[0]);
  const auto shapes = seq2seq_parameter_shapes(gru);
  std::vector<std::string> names;
  for (const auto& [name, shape] : shapes) names.push_back(name);
  const std::vector<std::string> expected{"encoder.embedding.weight",     "encoder.rnn.rnn.weight_ih_l0",
                                          "encoder.rnn.rnn.weight_hh_l0", "encoder.rnn.rnn.bias_ih_l0",
                                          "encoder.rnn.rnn.bias_hh_l0",   "encoder.rnn.rnn.weight_ih_l1",
                                          "encoder.rnn.rnn.weight_hh_l1", "encoder.rnn.rnn.bias_ih_l1",
                                          "encoder.rnn.rnn.bias_hh_l1",   "decoder.embedding.weight",
                                          "decoder.rnn.rnn.weight_ih_l0", "decoder.rnn.rnn.weight_hh_l0",
                                          "decoder.rnn.rnn.bias_ih_l0",   "decoder.rnn.rnn.bias_hh_l0",
                                          "decoder.rnn.rnn.weight_ih_l1", "decoder.rnn.rnn.weight_hh_l1",
                                          "decoder.rnn.rnn.bias_ih_l1",   "decoder.rnn.rnn.bias_hh_l1",
                                          "decoder.dense.weight",         "decoder.dense.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(shapes[10].second, (Shape{15, 4 + 5}));  // decoder input: embedding + context
  // The model registers exactly these, in this order.
  Seq2SeqModel model(gru);
  ASSERT_EQ(model.parameters().size(), static_cast<int>(shapes.size()));
  for (int i = 0; i < model.parameters().size(); ++i) {
    EXPECT_EQ(model.parameters().slot(i).name, shapes[static_cast<size_t>(i)].first);
    EXPECT_EQ(model.parameters().slot(i).shape, shapes[static_cast<size_t>(i)].second);
  }
  // d2l 11.4's attention decoder holds nn.GRU directly and its attention first.
  const auto attention = seq2seq_parameter_shapes(small_config(kVariants[3]));
  std::vector<std::string> attention_names;
  for (const auto& [name, shape] : attention) attention_names.push_back(name);
  const std::vector<std::string> expected_attention{"encoder.embedding.weight",
                                                    "encoder.rnn.rnn.weight_ih_l0",
                                                    "encoder.rnn.rnn.weight_hh_l0",
                                                    "encoder.rnn.rnn.bias_ih_l0",
                                                    "encoder.rnn.rnn.bias_hh_l0",
                                                    "encoder.rnn.rnn.weight_ih_l0_reverse",
                                                    "encoder.rnn.rnn.weight_hh_l0_reverse",
                                                    "encoder.rnn.rnn.bias_ih_l0_reverse",
                                                    "encoder.rnn.rnn.bias_hh_l0_reverse",
                                                    "decoder.attention.W_k.weight",
                                                    "decoder.attention.W_q.weight",
                                                    "decoder.attention.w_v.weight",
                                                    "decoder.embedding.weight",
                                                    "decoder.rnn.weight_ih_l0",
                                                    "decoder.rnn.weight_hh_l0",
                                                    "decoder.rnn.bias_ih_l0",
                                                    "decoder.rnn.bias_hh_l0",
                                                    "decoder.dense.weight",
                                                    "decoder.dense.bias"};
  EXPECT_EQ(attention_names, expected_attention);
  EXPECT_EQ(attention[9].second, (Shape{10, 10}));   // W_k on the 2H-wide bidirectional memory
  EXPECT_EQ(attention[13].second, (Shape{40, 14}));  // LSTM 4 x 10 gates over [context 10, embedding 4]
}

TEST(Seq2SeqModel, XavierOnRecurrentWeightsOnly) {
  Seq2SeqModel model(Seq2SeqConfig{
      .hidden_size = 64, .embedding_size = 32, .source_vocab_size = 50, .target_vocab_size = 60});
  Rng rng(1);
  model.reset_parameters(rng);
  auto max_abs = [&](const std::string& name) {
    float m = 0;
    for (float v : model.parameters().value(name).span()) m = std::max(m, std::abs(v));
    return m;
  };
  // Xavier: sqrt(6 / (fan_in + fan_out)); weight_hh_l0 [192, 64] -> 0.153; PyTorch default 1/8.
  EXPECT_GT(max_abs("encoder.rnn.rnn.weight_hh_l0"), 0.13f);
  EXPECT_LE(max_abs("encoder.rnn.rnn.weight_hh_l0"), std::sqrt(6.0f / (192 + 64)));
  EXPECT_LE(max_abs("encoder.rnn.rnn.bias_hh_l0"), 0.125f);  // biases keep U(+-1/sqrt(H))
  EXPECT_LE(max_abs("decoder.dense.weight"), 0.125f);        // nn.LazyLinear's default
  EXPECT_GT(max_abs("encoder.embedding.weight"), 2.0f);      // N(0, 1)
}

// Step-by-step decoding (the graph-free path of translation) equals teacher forcing, every variant.
TEST(Seq2SeqModel, DecodeStepsEqualTeacherForcedLogits) {
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    auto model = make_model(v);
    const Batch b = make_batch(kSources, kInputs);
    Graph<float> g;
    Tensor<float> logits;
    {
      NoGradGuard<float> no_grad(g);
      logits = g.to_tensor(model->logits(g, b.view(), nullptr, false));
    }
    const int64_t V = 7;
    Graph<float> step_graph;
    DecoderState state = model->encode(step_graph, b.source, b.lengths, b.Ts, b.B);
    for (int64_t t = 0; t < b.Tt; ++t) {
      std::vector<int32_t> tokens(b.decoder_input.begin() + t * b.B, b.decoder_input.begin() + (t + 1) * b.B);
      const Tensor<float> step = model->decode_step(step_graph, state, tokens);
      for (int64_t r = 0; r < b.B; ++r)
        for (int64_t k = 0; k < V; ++k)
          ASSERT_NEAR(step[r * V + k], logits[(t * b.B + r) * V + k], 1e-5) << "t=" << t << " row " << r;
    }
  }
}

// A sentence's logits do not depend on the other rows of its batch or on its padding.
TEST(Seq2SeqModel, RowsDoNotDependOnPaddingOrCompany) {
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    auto model = make_model(v);
    const Batch together = make_batch(kSources, kInputs, /*padded_source_steps=*/8);
    Graph<float> g;
    NoGradGuard<float> no_grad(g);
    const Tensor<float> all = g.to_tensor(model->logits(g, together.view(), nullptr, false));
    for (int64_t r = 0; r < together.B; ++r) {
      const Batch alone = make_batch({kSources[static_cast<size_t>(r)]}, {kInputs[static_cast<size_t>(r)]});
      g.clear();
      const Tensor<float> one = g.to_tensor(model->logits(g, alone.view(), nullptr, false));
      for (int64_t t = 0; t < together.Tt; ++t)
        for (int64_t k = 0; k < 7; ++k)
          ASSERT_NEAR(one[t * 7 + k], all[(t * together.B + r) * 7 + k], 1e-5) << "row " << r << " t=" << t;
    }
  }
}

// The masked loss equals the mean over masked-in rows of an independent log-softmax of the logits.
TEST(Seq2SeqModel, LossIsMaskedMeanOfCrossEntropy) {
  auto model = make_model(kVariants[2]);
  Batch b = make_batch(kSources, kInputs);
  b.mask[static_cast<size_t>(3 * b.B + 2)] = 0;  // the last row's last target is padding
  b.mask[static_cast<size_t>(2 * b.B + 2)] = 0;
  Graph<float> g;
  const Tensor<float> logits = g.to_tensor(model->logits(g, b.view(), nullptr, false));
  double sum = 0, count = 0;
  for (size_t i = 0; i < b.target.size(); ++i) {
    if (b.mask[i] == 0) continue;
    const float* row = logits.data() + i * 7;
    double lse = 0;
    for (int k = 0; k < 7; ++k) lse += std::exp(static_cast<double>(row[k]));
    sum += std::log(lse) - row[b.target[i]];
    ++count;
  }
  g.clear();
  EXPECT_NEAR(g.item(model->loss(g, b.view(), nullptr, false)), sum / count, 1e-5);
}

// Central differences in float on a tiny model: every parameter's gradient, each variant. The
// ops and layers are checked in double elsewhere; this checks how the model wires them.
TEST(Seq2SeqModel, GradientsMatchFiniteDifferences) {
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    auto model = make_model(v, 11);
    Batch b = make_batch(kSources, kInputs);
    b.mask[static_cast<size_t>(3 * b.B + 2)] = 0;
    auto& params = model->parameters();
    Graph<float> g;
    params.zero_grads();
    Var loss = model->loss(g, b.view(), nullptr, true);
    g.backward(loss);
    const std::vector<float> analytic(params.grads().begin(), params.grads().end());
    auto loss_at = [&] {
      Graph<float> h;
      NoGradGuard<float> no_grad(h);
      return static_cast<double>(h.item(model->loss(h, b.view(), nullptr, false)));
    };
    Rng pick(5);
    const auto values = params.values();
    double worst = 0;
    for (int trial = 0; trial < 120; ++trial) {
      const auto i = static_cast<size_t>(pick.next_u64() % values.size());
      const float saved = values[i];
      const float eps = 1e-2f;
      values[i] = saved + eps;
      const double up = loss_at();
      values[i] = saved - eps;
      const double down = loss_at();
      values[i] = saved;
      const double numeric = (up - down) / (2 * static_cast<double>(eps));
      const double a = analytic[i];
      const double error = std::abs(a - numeric) / std::max(1e-2, std::abs(a) + std::abs(numeric));
      worst = std::max(worst, error);
      EXPECT_LT(error, 2e-2) << "value " << i << " analytic " << a << " numeric " << numeric;
    }
    EXPECT_LT(worst, 2e-2);
  }
}

TEST(Seq2SeqModel, BadBatchesAreRefused) {
  auto model = make_model(kVariants[0]);
  Batch b = make_batch(kSources, kInputs);
  Graph<float> g;
  b.lengths = {2, 3, 2};
  test::expect_error_words<ValueError>([&] { (void)model->loss(g, b.view(), nullptr, false); },
                                       {"non-increasing", "row 1"});
  b.lengths = {5, 3, 0};
  test::expect_error_words<ValueError>([&] { (void)model->loss(g, b.view(), nullptr, false); },
                                       {"source length 0", "row 2"});
  b = make_batch(kSources, kInputs);
  b.target.pop_back();
  test::expect_error_words<ShapeError>([&] { (void)model->loss(g, b.view(), nullptr, false); }, {"targets"});
  test::expect_error_words<ValueError>(
      [&] { Seq2SeqModel bad(Seq2SeqConfig{.source_vocab_size = 0, .target_vocab_size = 5}); },
      {"source_vocab_size"});
  test::expect_error_words<ValueError>([&] { (void)parse_attention("luong"); }, {"luong", "bahdanau"});
}

TEST(Seq2SeqCheckpoint, SavesAndLoadsEveryVariant) {
  for (const Variant& v : kVariants) {
    SCOPED_TRACE(v.name);
    auto model = make_model(v);
    std::vector<std::string> source{"<unk>", "<pad>", "<bos>", "<eos>", "a", "b", "c", "d", "e"};
    std::vector<std::string> target{"<unk>", "<pad>", "<bos>", "<eos>", "x", "y", "z"};
    const Seq2SeqText text{
        .source = Vocab::from_tokens(source), .target = Vocab::from_tokens(target), .steps = 7};
    const fs::path dir = test::make_temp_dir("s2s-ckpt");
    save_seq2seq_files(dir, *model, text);
    LoadedSeq2Seq loaded = load_seq2seq(dir);
    EXPECT_EQ(loaded.text.source, text.source);
    EXPECT_EQ(loaded.text.target, text.target);
    EXPECT_EQ(loaded.text.steps, 7);
    const Seq2SeqConfig& c = loaded.model->config();
    EXPECT_EQ(c.cell, v.cell);
    EXPECT_EQ(c.bidirectional, v.bidirectional);
    EXPECT_EQ(c.attention, v.attention);
    EXPECT_EQ(c.num_layers, v.layers);
    const auto a = model->parameters().values(), b = loaded.model->parameters().values();
    ASSERT_EQ(a.size(), b.size());
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
  }
}

// d2l 1.0 builds its vocabularies from the padded sentences: its source vocabulary has no <bos>
// (only targets start with it). Such a model loads; the target still needs <bos>.
TEST(Seq2SeqCheckpoint, SourceVocabularyWithoutBosLoads) {
  Variant v = kVariants[0];
  auto model = std::make_unique<Seq2SeqModel>(Seq2SeqConfig{.cell = v.cell,
                                                            .num_layers = v.layers,
                                                            .hidden_size = 5,
                                                            .embedding_size = 4,
                                                            .source_vocab_size = 8,
                                                            .target_vocab_size = 7});
  Rng rng(3);
  model->reset_parameters(rng);
  const Seq2SeqText text{.source = Vocab::from_tokens({"<unk>", "<pad>", "<eos>", "a", "b", "c", "d", "e"}),
                         .target = Vocab::from_tokens({"<unk>", "<pad>", "<bos>", "<eos>", "x", "y", "z"}),
                         .steps = 7};
  const fs::path dir = test::make_temp_dir("s2s-nobos");
  save_seq2seq_files(dir, *model, text);
  const LoadedSeq2Seq loaded = load_seq2seq(dir);
  EXPECT_EQ(loaded.text.source, text.source);
  EXPECT_EQ(loaded.model->config().source_vocab_size, 8);

  const Seq2SeqText no_target_bos{
      .source = text.source,
      .target = Vocab::from_tokens({"<unk>", "<pad>", "<eos>", "x", "y", "z", "w"}),
      .steps = 7};
  save_seq2seq_files(dir, *model, no_target_bos);
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir); },
                                    {"config.json", "<bos>", "target_vocab"});
}

TEST(Seq2SeqCheckpoint, BadFoldersNameTheFileAndField) {
  auto model = make_model(kVariants[0]);
  const Seq2SeqText text{
      .source = Vocab::from_tokens({"<unk>", "<pad>", "<bos>", "<eos>", "a", "b", "c", "d", "e"}),
      .target = Vocab::from_tokens({"<unk>", "<pad>", "<bos>", "<eos>", "x", "y", "z"}),
      .steps = 7};
  const fs::path dir = test::make_temp_dir("s2s-bad");
  save_seq2seq_files(dir, *model, text);
  const std::string good = seq2seq_config_json(model->config(), text);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    std::ofstream(dir / "config.json") << s;
  };
  with("\"hidden_size\": 5", "\"hidden_size\": 6");
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir); },
                                    {"model.safetensors", "encoder.rnn.rnn.weight_ih_l0", "shape"});
  with("\"attention\": \"none\"", "\"attention\": \"luong\"");
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir); }, {"config.json", "luong"});
  with("\"bos\": \"<bos>\"", "\"bos\": \"<start>\"");
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir); }, {"config.json", "bos", "<start>"});
  with("\"format\": \"recur-seq2seq\"", "\"format\": \"recur-lm\"");
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir); }, {"config.json", "format"});
  with("\"steps\": 7", "\"steps\": 0");
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir); }, {"config.json", "steps"});
  test::expect_error_words<IoError>([&] { (void)load_seq2seq(dir / "missing"); },
                                    {"missing", "does not exist"});
}
