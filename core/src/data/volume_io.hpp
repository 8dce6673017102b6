#pragma once
// ITK plumbing shared by the data sources that read or write images.
#include <functional>
#include <string>

namespace itk {
class ExceptionObject;
}

namespace whatif::data {

// Registers the ITK image formats whatif reads (explicitly, once: no static self-registration).
void register_image_io();
// An ITK exception's description on one line.
std::string itk_reason(const itk::ExceptionObject& e);
// A hidden name next to `path` with the same extension (ITK picks the format from it). Partial
// files that processes no longer alive left in that folder (killed mid-write) are removed first.
std::string temporary_sibling(const std::string& path);
// Removes `.whatif-partial-<pid>-*` files of processes that no longer exist from `folder`.
void remove_stale_partials(const std::string& folder);
// Calls `write(temporary)` and renames the result to `path`; removes it if anything throws.
void write_itk_atomically(const std::string& path,
                          const std::function<void(const std::string&)>& write);

}  // namespace whatif::data
