/**
 * The README and docs/ are read by people who have only this repository: every relative link must
 * reach a file inside it, and no page may send the reader to a path outside it (an earlier README
 * pointed at `../shared/seeds/`, which a user of Herald does not have).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '@herald/test-support';

function markdownPages(): string[] {
  const pages = [join(REPO_ROOT, 'README.md')];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) pages.push(path);
    }
  };
  walk(join(REPO_ROOT, 'docs'));
  return pages;
}

/** Inline links and images `[text](target)`, outside fenced code blocks. */
function linkTargets(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

const inside = (path: string): boolean => !relative(REPO_ROOT, path).startsWith('..');

describe('README and docs', () => {
  const pages = markdownPages();

  it('finds the pages it checks', () => {
    expect(pages.map((p) => relative(REPO_ROOT, p))).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/seeds.md']));
  });

  it.each(pages.map((p) => [relative(REPO_ROOT, p), p]))('%s: every relative link reaches a file of the repository', (_name, page) => {
    const broken: string[] = [];
    for (const target of linkTargets(readFileSync(page, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue; // URLs, anchors
      const path = resolve(dirname(page), decodeURI(target.split('#')[0]!));
      if (!inside(path) || !existsSync(path)) broken.push(target);
    }
    expect(broken).toEqual([]);
  });

  it.each(pages.map((p) => [relative(REPO_ROOT, p), p]))('%s: names no path outside the repository', (_name, page) => {
    const text = readFileSync(page, 'utf8');
    expect(text.match(/(?:\.\.\/)+shared\/|spec\/seed-behaviour\.md/g) ?? []).toEqual([]);
  });
});
