// A language-common job: greet whoever the payload names and count the items it carries.
fn(state => {
  const data = state.data || {};
  const items = Array.isArray(data.items) ? data.items : [];
  return {
    ...state,
    data: {
      greeting: `Hello, ${data.name || 'world'}!`,
      itemCount: items.length,
      total: items.reduce((sum, item) => sum + (Number(item.amount) || 0), 0),
    },
  };
});
