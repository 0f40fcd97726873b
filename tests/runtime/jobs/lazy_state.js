// OpenFn's documented lazy-state patterns ($ for the state when the operation runs), mixed
// with hand-written operations. explicit_state.js is the same job written with `state =>`.
fn(state => ({ ...state, input: state.data }));
post('/patient', $.input.patient);
fn(state => ({ ...state, posted: state.data }));
get($.input.url);
fn(state => ({ ...state, got: state.data }));
post('/summary', {
  name: $.input.patient.name,
  tags: [$.input.tag, 'fixed'],
  note: `visit on ${$.input.visit}`,
});
fn(state => ({ ...state, summary: state.data }));
each($.input.items, post('/items', $.data));
fn(state => {
  const $ = { data: 'a local $' }; // a variable named $ is not lazy state
  return {
    data: { posted: state.posted, got: state.got, summary: state.summary, last: state.data },
    local: $.data, text: '$.data', object: { $: 1 },
  };
});
