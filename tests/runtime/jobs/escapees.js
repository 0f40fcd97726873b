// Start processes that try to outlive the run, then end as state.data.then says.
startEscapees();
fn(state => {
  if (state.data.then === 'throw') throw new Error('failed after starting children');
  if (state.data.then === 'hang') return new Promise(resolve => setTimeout(resolve, 600000));
  return { ...state, data: { finished: state.data.tag } };
});
