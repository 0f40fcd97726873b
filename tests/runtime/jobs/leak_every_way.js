// A job that gives its credential back in every way it can: printed raw, through
// JSON.stringify (once and twice), as console.log shows an object, URL-encoded, cut by the
// 64 KiB boundary of a read, on stdout and stderr, and returned in its final state.
fn(state => {
  const c = state.configuration;
  console.log('raw:', c.password, c.quote, c.key, c.pin, c.rate, c.token);
  console.log('json:', JSON.stringify(c));
  console.log('twice:', JSON.stringify(JSON.stringify(c)));
  console.log('inspect:', c);
  console.error('stderr:', JSON.stringify(c), c.password);
  console.log('url: https://example.org/?p=' + encodeURIComponent(c.password));
  for (let k = 1; k < 24; k += 3) console.log('y'.repeat(65535 - k) + c.token);
  console.log('BEFORE-LONG');
  console.log('x'.repeat(200000) + 'END-OF-LONG ' + c.token);
  console.log('AFTER-LONG');
  return {
    data: {
      copy: c, text: JSON.stringify(c), pin: c.pin, pinText: String(c.pin), rate: c.rate,
      port: c.port, [c.token]: 'as a key',
    },
  };
});
