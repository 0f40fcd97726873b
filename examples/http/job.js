// A language-http job: forward the payload to the service the credential points at
// (configuration.baseUrl).
post('/records', state => state.data);
