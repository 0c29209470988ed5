// Runs one command and measures it: wall time from the harness's clock (sub-millisecond), user and
// system CPU seconds and peak RSS from GNU time (the kernel's rusage of the child, which Node cannot
// read for a child process). Without /usr/bin/time it falls back to sampling /proc, marked approx.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const GNU_TIME = '/usr/bin/time';
export const haveGnuTime = (() => {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

let seq = 0;
const running = new Set();

// Kills every measured run still going (their whole process groups): used on Ctrl-C and exit.
export function killAllRuns() {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

// opts: { cwd, timeoutMs, stdin: 'ignore' | (writable) => Promise<void>, stdout: 'ignore' | 'capture',
//         tmpDir, env }
// Resolves { ok, code, signal, timedOut, wall, user, sys, cpu, rssMiB, approx, stderr, stdout }.
export function measure(cmd, args, opts) {
  const timeFile = path.join(opts.tmpDir, `time-${process.pid}-${++seq}.txt`);
  const argv = haveGnuTime ? ['-f', '%e %U %S %M', '-o', timeFile, '--', cmd, ...args] : args;
  const exe = haveGnuTime ? GNU_TIME : cmd;
  const feeder = typeof opts.stdin === 'function' ? opts.stdin : null;
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    // detached: its own process group, so a timeout kills the tool and anything it started.
    const child = spawn(exe, argv, {
      cwd: opts.cwd,
      env: opts.env || process.env,
      detached: true,
      stdio: [feeder ? 'pipe' : 'ignore', opts.stdout === 'capture' ? 'pipe' : 'ignore', 'pipe'],
    });
    running.add(child.pid);
    let stderr = '';
    let stdout = '';
    // Keep the head and the tail of stderr: the first error is usually the cause, the last the summary.
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 16_000) stderr = `${stderr.slice(0, 6000)}\n…\n${stderr.slice(-6000)}`;
    });
    if (child.stdout) child.stdout.on('data', (d) => { stdout = (stdout + d).slice(-16_000); });

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, opts.timeoutMs);

    const sampler = haveGnuTime ? null : startProcSampler(child.pid);

    if (feeder) {
      child.stdin.on('error', () => { /* the tool may exit before reading everything: its status says why */ });
      feeder(child.stdin).catch(() => {}).finally(() => child.stdin.end());
    }

    child.on('error', (err) => {
      stderr += String(err.message);
    });
    child.on('close', (code, signal) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      clearTimeout(timer);
      running.delete(child.pid);
      let user = NaN;
      let sys = NaN;
      let rssMiB = NaN;
      let realCode = code;
      let realSignal = signal;
      let approx = false;
      if (haveGnuTime) {
        try {
          const text = fs.readFileSync(timeFile, 'utf8');
          fs.rmSync(timeFile, { force: true });
          // GNU time prepends "Command exited with non-zero status N" or "Command terminated by signal N".
          const m = /non-zero status (\d+)/.exec(text);
          if (m) realCode = Number(m[1]);
          const s = /terminated by signal (\d+)/.exec(text);
          if (s) realSignal = `signal ${s[1]}`;
          const last = text.trim().split('\n').pop().trim().split(/\s+/).map(Number);
          [, user, sys] = last;
          rssMiB = last[3] / 1024;
        } catch { /* killed before time wrote its file */ }
      } else {
        const r = sampler.stop();
        ({ user, sys, rssMiB } = r);
        approx = true;
      }
      resolve({
        ok: !timedOut && realCode === 0 && !realSignal,
        code: realCode,
        signal: realSignal,
        timedOut,
        wall,
        user,
        sys,
        cpu: user + sys,
        rssMiB,
        approx,
        stderr: stderr.trim(),
        stdout,
      });
    });
  });
}

// /proc sampling every 20 ms: misses whatever happens in the last few ms of a run, hence "approx".
function startProcSampler(pid) {
  const tick = 100; // USER_HZ on Linux
  let last = { user: NaN, sys: NaN, rssMiB: NaN };
  const sample = () => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      last = {
        user: Number(f[11]) / tick,
        sys: Number(f[12]) / tick,
        rssMiB: hwm ? Number(hwm[1]) / 1024 : last.rssMiB,
      };
    } catch { /* exited */ }
  };
  const iv = setInterval(sample, 20);
  return { stop: () => { clearInterval(iv); return last; } };
}
