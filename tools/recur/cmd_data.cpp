// `recur data list|path`: which datasets recur knows and where it finds them.
#include <fmt/core.h>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"

namespace recur::cli {

void add_data_command(CLI::App& app, const CommonOptions& common) {
  auto* data = app.add_subcommand("data", "List known datasets and locate them");
  data->require_subcommand(1);
  data->footer("Example:\n  recur data list\n  recur data path timemachine");

  auto* list = data->add_subcommand("list", "Show every known dataset and where it was found");
  list->callback([&common] {
    apply_common(common);
    auto dirs = default_data_dirs();
    for (const auto& d : known_datasets()) {
      std::string where;
      try {
        where = resolve_dataset(d.name, dirs).string();
      } catch (const IoError&) {
        where = "(missing: " + std::string(d.public_copy) + ")";
      }
      fmt::print("{:<24} {}\n{:<24} {}\n", d.name, d.description, "", where);
    }
  });

  auto* path = data->add_subcommand("path", "Print the file a dataset name resolves to");
  static std::string name;
  path->add_option("name", name, "Dataset name or file path")->required();
  path->callback([&common] {
    apply_common(common);
    fmt::print("{}\n", resolve_dataset(name).string());
  });
}

}  // namespace recur::cli
