// lazy_state.js as people wrote it before lazy state: every argument a function of state.
fn(state => ({ ...state, input: state.data }));
post('/patient', state => state.input.patient);
fn(state => ({ ...state, posted: state.data }));
get(state => state.input.url);
fn(state => ({ ...state, got: state.data }));
post('/summary', state => ({
  name: state.input.patient.name,
  tags: [state.input.tag, 'fixed'],
  note: `visit on ${state.input.visit}`,
}));
fn(state => ({ ...state, summary: state.data }));
each(state => state.input.items, post('/items', state => state.data));
fn(state => {
  const $ = { data: 'a local $' }; // a variable named $ is not lazy state
  return {
    data: { posted: state.posted, got: state.got, summary: state.summary, last: state.data },
    local: $.data, text: '$.data', object: { $: 1 },
  };
});
