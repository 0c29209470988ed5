// Loaded into a CLI child with NODE_OPTIONS=--import=...: reports the child's own peak RSS.
process.on('exit', () => {
  process.stderr.write(`PEAK_RSS_KB ${process.resourceUsage().maxRSS}\n`);
});
