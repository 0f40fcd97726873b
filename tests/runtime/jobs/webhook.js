// Show how the run was called: the final state keeps state.data and state.request. With
// data.reply set (a sync test), the job answers the request itself (state.webhookResponse).
fn(state => {
  const out = { data: state.data, request: state.request };
  if (state.data && state.data.reply) out.webhookResponse = state.data.reply;
  return out;
});
