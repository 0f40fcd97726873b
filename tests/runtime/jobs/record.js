// Tell the receiver at configuration.baseUrl that this run happened (one POST per run).
post('/effects', state => state.data);
