// A test job that does what state.data.action says.
fn(state => {
  const { action, ms, message } = state.data;
  if (action === 'throw') throw new Error(message || 'the job failed on purpose');
  if (action === 'hang') return new Promise(() => {});
  if (action === 'sleep') return new Promise(resolve => setTimeout(() => resolve(state), ms));
  if (action === 'leak') {
    console.log('configuration is', JSON.stringify(state.configuration));
    return { ...state, data: { copied: state.configuration } };
  }
  if (action === 'leak-throw') throw new Error('the token is ' + state.configuration.token);
  return { ...state, data: { echoed: state.data } };
});
