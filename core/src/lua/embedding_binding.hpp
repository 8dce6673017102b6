#pragma once
// Scripts' view of a joint image–text space (whatif.clip): retrieval, zero-shot scores, CLIPScore and ROC AUC
// over the embeddings model:embed returns.
struct lua_State;

namespace whatif::lua {

// Adds whatif.retrieval, whatif.zero_shot, whatif.clip_score and whatif.auc to the table on top of the stack.
void open_embedding(lua_State* L);

}  // namespace whatif::lua
