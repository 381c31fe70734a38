import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The API reference in each jsii language (`docgen`, after `rosetta:extract`): API.<language>.md
 * opens with the README, every TypeScript example translated into that language, then the API
 * reference in that language. jsii-docgen runs before the tests in the build, so this checks what
 * the build just generated.
 */
const ROOT = path.join(__dirname, '..', '..');
const README_HEADING = '# API Reference';

/** The info string of every fenced code block (` ```python ` gives `python`). */
function fences(markdown: string): string[] {
  return [...markdown.matchAll(/^```(\S*)[^\n]*$/gm)].map((m) => m[1]).filter((info) => info !== '');
}

const readmeFences = fences(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
/** The jsii target (package.json) → jsii-docgen's language, which is also the code blocks' info string. */
const DOC_LANGUAGE: Record<string, string> = { python: 'python', java: 'java', go: 'go', dotnet: 'csharp' };
const languages = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).jsii.targets)
  .map((target) => DOC_LANGUAGE[target]);

test('every jsii target has its reference', () => {
  // GIVEN the targets package.json declares (projen writes them from .projenrc.ts)
  // THEN each has its generated file
  expect(languages).toEqual(expect.arrayContaining(['python', 'java', 'go']));
  for (const language of languages) expect(fs.existsSync(path.join(ROOT, `API.${language}.md`))).toBe(true);
});

test.each(languages)('API.%s.md holds the README with its examples translated, then the API in that language', (language) => {
  // GIVEN the generated reference
  const doc = fs.readFileSync(path.join(ROOT, `API.${language}.md`), 'utf8');
  const split = doc.indexOf(`\n${README_HEADING}`);
  expect(split).toBeGreaterThan(0);
  const readme = fences(doc.slice(0, split));
  const api = fences(doc.slice(split));

  // THEN no TypeScript is left in it: each README example became one block in the language,
  // beside the README's own blocks in that language (handler code)
  const typescript = readmeFences.filter((info) => info === 'ts' || info === 'typescript').length;
  expect(typescript).toBeGreaterThan(0);
  expect(readme.filter((info) => info === 'ts' || info === 'typescript')).toEqual([]);
  expect(readme.filter((info) => info === language)).toHaveLength(typescript + readmeFences.filter((info) => info === language).length);
  // AND the API part shows every signature and initializer in the language
  expect(api.length).toBeGreaterThan(0);
  expect(new Set(api)).toEqual(new Set([language]));
});
