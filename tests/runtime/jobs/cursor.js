// A cron job that keeps a cursor between ticks: each tick moves it on by one.
// The first tick starts from its body's `start`; later ticks from the previous final state.
fn(state => {
  const from = state.data.cursor !== undefined ? state.data.cursor : (state.data.start || 0);
  const token = (state.configuration || {}).token || '';
  return {
    ...state,
    data: { cursor: from + 1, start: state.data.start },
    ticks: (state.ticks || 0) + 1,
    tokenLength: token.length,
  };
});
