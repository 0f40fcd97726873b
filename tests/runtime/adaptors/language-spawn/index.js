// A test adaptor: @openfn/language-common plus an operation that starts processes which try
// to outlive the run, as third-party adaptor or job code can. Each carries state.data.tag in
// its command line so the test can look for it.
const common = require('@openfn/language-common');
const { spawn } = require('node:child_process');

function startEscapees() {
  return (state) => {
    const { tag, seconds } = state.data;
    // A node child in its own session, holding the run's stdout and stderr open.
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', tag], {
      detached: true, stdio: 'inherit',
    }).unref();
    // Orphans in new sessions: their shell exits at once; one with no environment at all.
    const orphan = `/usr/bin/setsid /bin/sleep ${seconds} </dev/null >/dev/null 2>&1 &`;
    spawn('/bin/sh', ['-c', orphan], { stdio: 'ignore' });
    spawn('/bin/sh', ['-c', orphan.replace('/bin/sleep', '/bin/sleep 1')], { stdio: 'ignore', env: {} });
    return state;
  };
}

// One by one, so that node's CommonJS export detection (used by the warm engine) sees them.
exports.execute = common.execute;
exports.fn = common.fn;
exports.startEscapees = startEscapees;
