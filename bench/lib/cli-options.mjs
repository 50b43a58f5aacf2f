/** The text after `--<name>` on the command line, or `fallback` when the option is absent. */
export function cliOption(name, fallback, argv = process.argv.slice(2)) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}
