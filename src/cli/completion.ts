// `bulkget completion bash|zsh|fish`: a completion script made from commander's own list of
// commands and options, so it never goes stale. Option values complete where there is something
// to offer: folders for --dest, files for --input and the outputs, the choices of --progress,
// --if-exists, --layout and --jobs.

import type { Command, Option } from 'commander';

interface Opt {
  long: string;
  short?: string;
  description: string;
  value: boolean;
  repeatable: boolean;
  kind: 'dir' | 'file' | 'choice' | 'text' | 'none';
  choices: string[];
}

interface Cmd {
  name: string;
  description: string;
  options: Opt[];
  /** What its words are: URLs, country codes, report files, shells, or nothing. */
  words: 'urls' | 'codes' | 'files' | 'shells' | 'none';
  subcommands: Cmd[];
}

const DIRS = new Set(['--dest']);
const FILES = new Set(['--input', '--report', '--save-failed', '--netrc-file']);
const CHOICES: Record<string, string[]> = {
  '--progress': ['auto', 'bar', 'lines', 'json', 'none'],
  '--if-exists': ['skip', 'update', 'overwrite'],
  '--layout': ['flat', 'tree'],
  '--jobs': ['auto', '1', '2', '4', '8'],
  '--server': ['EMBEDDED', 'LOCAL', 'DELAY', 'ERROR', 'REMOTE'],
  '--only': ['local', 'delay', 'error'],
};
const WORDS: Record<string, Cmd['words']> = { get: 'urls', flags: 'codes', merge: 'files', completion: 'shells' };

function optOf(o: Option): Opt | undefined {
  if (!o.long || o.hidden) return undefined;
  const value = o.required || o.optional;
  const kind = !value ? 'none' : DIRS.has(o.long) ? 'dir' : FILES.has(o.long) ? 'file' : CHOICES[o.long] ? 'choice' : 'text';
  return { long: o.long, short: o.short, description: o.description, value, repeatable: o.variadic || /repeatable/.test(o.description), kind, choices: CHOICES[o.long] ?? [] };
}

function cmdOf(c: Command): Cmd {
  const options = c.options.map(optOf).filter((o): o is Opt => o !== undefined);
  options.push({ long: '--help', short: '-h', description: 'show this help', value: false, repeatable: false, kind: 'none', choices: [] });
  return { name: c.name(), description: c.description(), options, words: WORDS[c.name()] ?? 'none', subcommands: c.commands.map(cmdOf) };
}

/** The script for `shell`, or undefined for a shell we do not know. */
export function completionScript(shell: string, program: Command): string | undefined {
  const cmds = program.commands.map(cmdOf);
  switch (shell) {
    case 'bash':
      return bash(cmds);
    case 'zsh':
      return zsh(cmds);
    case 'fish':
      return fish(cmds);
    default:
      return undefined;
  }
}

const names = (o: Opt) => (o.short ? [o.short, o.long] : [o.long]);

function bash(cmds: Cmd[]): string {
  const all = cmds.flatMap((c) => [c, ...c.subcommands]);
  const valued = (kind: Opt['kind']) => [...new Set(all.flatMap((c) => c.options.filter((o) => o.kind === kind).flatMap(names)))];
  const choiceCases = [...new Map(all.flatMap((c) => c.options.filter((o) => o.kind === 'choice')).map((o) => [o.long, o])).values()]
    .map((o) => `    ${names(o).join('|')}) COMPREPLY=($(compgen -W '${o.choices.join(' ')}' -- "$cur")); return;;`);
  const perCmd = cmds.map((c) => {
    const sub = c.subcommands.length ? ` if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=($(compgen -W '${c.subcommands.map((s) => s.name).join(' ')}' -- "$cur")); return; fi;` : '';
    const opts = [...c.options, ...c.subcommands.flatMap((s) => s.options)];
    const words = c.words === 'shells' ? ` [[ $cur != -* ]] && { COMPREPLY=($(compgen -W 'bash zsh fish' -- "$cur")); return; };` : '';
    return `    ${c.name})${sub}${words} opts='${[...new Set(opts.flatMap(names))].join(' ')}';;`;
  });
  return `# bulkget completion for bash. Load it with:  source <(bulkget completion bash)
# or save it as ~/.local/share/bash-completion/completions/bulkget
_bulkget() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} cmd=get opts
  if [[ $COMP_CWORD -gt 1 ]]; then
    case \${COMP_WORDS[1]} in ${cmds.map((c) => c.name).join('|')}) cmd=\${COMP_WORDS[1]};; esac
  fi
  case $prev in
    ${valued('dir').join('|')}) COMPREPLY=($(compgen -d -- "$cur")); return;;
    ${valued('file').join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return;;
${choiceCases.join('\n')}
    ${valued('text').join('|')}) return;;
  esac
  case $cmd in
${perCmd.join('\n')}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W '${cmds.map((c) => c.name).join(' ')}' -- "$cur"))
  fi
}
complete -o default -o bashdefault -F _bulkget bulkget
`;
}

/** Text inside a zsh _arguments spec, itself inside single quotes. */
function zq(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1').replace(/'/g, `'\\''`);
}

function zshSpec(o: Opt): string {
  const action = o.kind === 'dir' ? '_files -/' : o.kind === 'file' ? '_files' : o.kind === 'choice' ? `(${o.choices.join(' ')})` : o.kind === 'text' ? ' ' : '';
  const arg = o.value ? `:${zq(o.long.slice(2))}:${action}` : '';
  const desc = `[${zq(o.description)}]`;
  const rep = o.repeatable ? '*' : '';
  if (!o.short) return `'${rep}${o.long}${desc}${arg}'`;
  const excl = o.repeatable ? '' : `(${o.short} ${o.long})`;
  return `'${rep}${excl}'{${o.short},${o.long}}'${desc}${arg}'`;
}

function zsh(cmds: Cmd[]): string {
  const words: Record<Cmd['words'], string> = { urls: `'*:URL:_urls'`, codes: `'*:country code: '`, files: `'*:report:_files'`, shells: `'1:shell:(bash zsh fish)'`, none: '' };
  const args = (c: Cmd) => ['_arguments -s -S', ...c.options.map(zshSpec), words[c.words]].filter(Boolean).join(' \\\n        ');
  const cases = cmds.map((c) => {
    if (c.subcommands.length === 0) return `    ${c.name})\n      ${args(c)} ;;`;
    const subs = c.subcommands.map((s) => `        ${s.name}) ${args(s)} ;;`).join('\n');
    return `    ${c.name})
      if (( CURRENT == 2 )); then
        _values 'command' ${c.subcommands.map((s) => `'${s.name}[${zq(s.description)}]'`).join(' ')}
        return
      fi
      words=(\${words[2]} \${words[3,-1]}); (( CURRENT-- ))
      case \${words[1]} in
${subs}
      esac ;;`;
  });
  return `#compdef bulkget
# bulkget completion for zsh. Load it with:  source <(bulkget completion zsh)
# or save it as _bulkget in a folder of $fpath.
_bulkget() {
  local -a cmds
  cmds=(${cmds.map((c) => `'${c.name}:${zq(c.description)}'`).join(' ')})
  local cmd=get
  if (( CURRENT > 2 )) && (( \${cmds[(I)\${words[2]}:*]} )); then
    cmd=\${words[2]}
    words=(\${words[1]} \${words[3,-1]}); (( CURRENT-- ))
  elif (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then
    _describe -t commands 'bulkget command' cmds
  fi
  case $cmd in
${cases.join('\n')}
  esac
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then _bulkget "$@"; else compdef _bulkget bulkget; fi
`;
}

/** Text inside a fish single-quoted string. */
function fq(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}

function fishOpt(cond: string, o: Opt): string {
  const parts = [`complete -c bulkget -n '${cond}'`];
  if (o.short) parts.push(`-s ${o.short.slice(1)}`);
  parts.push(`-l ${o.long.slice(2)}`);
  if (o.kind === 'dir') parts.push(`-x -a '(__fish_complete_directories (commandline -ct))'`);
  else if (o.kind === 'file') parts.push('-r -F');
  else if (o.kind === 'choice') parts.push(`-x -a '${o.choices.join(' ')}'`);
  else if (o.kind === 'text') parts.push('-x');
  parts.push(`-d '${fq(o.description)}'`);
  return parts.join(' ');
}

function fish(cmds: Cmd[]): string {
  const all = cmds.map((c) => c.name).join(' ');
  const lines = ['# bulkget completion for fish. Load it with:  bulkget completion fish | source', '# or save it as ~/.config/fish/completions/bulkget.fish', 'complete -c bulkget -f'];
  for (const c of cmds) lines.push(`complete -c bulkget -n 'not __fish_seen_subcommand_from ${all}' -a ${c.name} -d '${fq(c.description)}'`);
  for (const c of cmds) {
    // The default command's options also apply before any command is named.
    const cond = c.name === 'get' ? `not __fish_seen_subcommand_from ${cmds.filter((x) => x.name !== 'get').map((x) => x.name).join(' ')}` : `__fish_seen_subcommand_from ${c.name}`;
    for (const o of c.options) lines.push(fishOpt(cond, o));
    for (const s of c.subcommands) {
      const subCond = `__fish_seen_subcommand_from ${c.name}; and not __fish_seen_subcommand_from ${c.subcommands.map((x) => x.name).join(' ')}`;
      lines.push(`complete -c bulkget -n '${subCond}' -a ${s.name} -d '${fq(s.description)}'`);
      for (const o of s.options) lines.push(fishOpt(`__fish_seen_subcommand_from ${s.name}`, o));
      if (s.words === 'files') lines.push(`complete -c bulkget -n '__fish_seen_subcommand_from ${s.name}' -F`);
    }
    if (c.words === 'shells') lines.push(`complete -c bulkget -n '__fish_seen_subcommand_from ${c.name}' -a 'bash zsh fish'`);
  }
  return lines.join('\n') + '\n';
}
