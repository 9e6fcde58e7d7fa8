// `recur eval`: perplexity of a trained model on a text, scored as one stream from a zero state.
#include <fmt/core.h>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/corpus.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/prepared_corpus.h"
#include "recur/lm/run.h"
#include "recur/text/text_file.h"

namespace recur::cli {

void add_eval_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("eval", "Perplexity (and bits per character) of a model on a text");
  auto model = std::make_shared<std::string>("runs/demo");
  auto file = std::make_shared<std::string>();
  auto chunk = std::make_shared<int64_t>(256);
  cmd->add_option("--model", *model, "Model folder, or a run folder (its best/ model)")
      ->capture_default_str();
  cmd->add_option("file", *file, "Text to score: a file, a dataset name or a prepared folder (its valid.bin)")
      ->required();
  cmd->add_option("--chunk", *chunk, "Tokens per forward pass (the state carries across chunks)")
      ->capture_default_str();
  cmd->footer("Example:\n  recur eval --model runs/demo timemachine");
  cmd->callback([model, file, chunk, &common] {
    const ComputeContext context = apply_common(common);
    check(*chunk >= 1, "eval: --chunk must be >= 1, got " + std::to_string(*chunk));
    const auto folder = find_model_folder(*model);
    LoadedModel loaded = load_model(folder);
    const bool is_prepared = is_prepared_folder(*file);
    const auto path = is_prepared ? std::filesystem::path(*file) : resolve_dataset(*file);
    EncodedTokens text;
    TokenIds ids;
    if (is_prepared) {
      // A prepared folder: its valid.bin (train.bin when it has none), mapped.
      PreparedCorpus prepared = load_prepared_corpus(path);
      if (!(prepared.encoding == loaded.text.encoding) ||
          prepared.vocab.tokens() != loaded.text.vocab.tokens())
        throw ValueError(
            fmt::format("'{}' was prepared with another encoding or vocabulary than the model in '{}'",
                        path.string(), folder.string()));
      const bool has_valid = !prepared.valid.empty();
      text.unknown_count = has_valid ? prepared.valid_unknown : 0;
      ids = has_valid ? std::move(prepared.valid) : std::move(prepared.train);
    } else {
      text = encode_text(read_text_file(path), loaded.text.encoding, loaded.text.vocab);
      ids = std::move(text.ids);
    }
    if (ids.size() < 2) throw ValueError("'" + path.string() + "' gives fewer than 2 tokens to score");
    const EvalResult r = evaluate_stream(*loaded.model, ids.view(), 1, *chunk, context);
    fmt::print("model: {}\ntext: {} ({} {} tokens, {} not in the vocabulary, scored as {})\n",
               folder.string(), path.string(), ids.size(), token_level_name(loaded.text.encoding.level),
               text.unknown_count, loaded.text.vocab.unk());
    fmt::print("tokens scored: {}\nperplexity: {:.4f}\n", r.predicted, r.perplexity());
    if (loaded.text.encoding.level == TokenLevel::character)
      fmt::print("bits per character: {:.4f}\n", r.bits_per_token());
  });
}

}  // namespace recur::cli
