// A language-http job: forward the payload to the service the credential points at.
post('/records', { body: state => state.data });
