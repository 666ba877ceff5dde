import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize } from './lexer.js';
import { assertVmConfError } from './testing.js';

const brief = (text: string) => tokenize(text, '/etc/vm.conf').map((t) => `${t.kind}:${t.text}@${t.line}:${t.col}`);

test('tokenize: words, strings, punctuation and positions', () => {
  const cases: [string, string[]][] = [
    ['vm "a b" {', ['word:vm@1:1', 'string:a b@1:4', '{:{@1:10', 'eof:@1:11']],
    ["x='q'", ['word:x@1:1', '=:=@1:2', 'string:q@1:3', 'eof:@1:6']],
    ['memory 512M # a comment\n}', ['word:memory@1:1', 'word:512M@1:8', 'newline:\n@1:24', '}:}@2:1', 'eof:@2:2']],
    ['disk /a/b.img\\\n  format raw', ['word:disk@1:1', 'word:/a/b.img@1:6', 'word:format@2:3', 'word:raw@2:10', 'eof:@2:13']],
    ['a,b', ['word:a@1:1', ',:,@1:2', 'word:b@1:3', 'eof:@1:4']],
    ['lladdr 52:54:00:aa:bb:cc', ['word:lladdr@1:1', 'word:52:54:00:aa:bb:cc@1:8', 'eof:@1:25']],
    ['"say \\"hi\\"" "a\\\\b"', ['string:say "hi"@1:1', 'string:a\\\\b@1:14', 'eof:@1:20']],
    ['"one \\\ntwo"', ['string:one two@1:1', 'eof:@2:5']],
    ['$dir/x.img', ['word:$dir/x.img@1:1', 'eof:@1:11']],
    ['rdomain -1', ['word:rdomain@1:1', 'word:-1@1:9', 'eof:@1:11']],
    ['a\r\nb', ['word:a@1:1', 'newline:\n@1:3', 'word:b@2:1', 'eof:@2:2']],
    ['"#not a comment"', ['string:#not a comment@1:1', 'eof:@1:17']],
  ];
  for (const [text, want] of cases) assert.deepEqual(brief(text), want, JSON.stringify(text));
});

test('tokenize: errors name line and column', () => {
  const cases: [string, number, number, string][] = [
    ['vm "open {\n', 1, 4, 'quoted string is not closed before the end of the line'],
    ['\n\n  boot "x', 3, 8, 'quoted string is not closed'],
    ['memory 1G\n  .hidden', 2, 3, "unexpected character '.'; an argument that starts with it must be quoted"],
    ['a ; b', 1, 3, "unexpected character ';'"],
    ['disk ./x', 1, 6, "unexpected character '.'"],
    ['x -foo', 1, 3, 'an argument starting with "-" must be quoted'],
    ['vm é', 1, 4, 'unexpected character U+00E9'],
    ['"a\0b"', 1, 3, 'NUL byte'],
  ];
  for (const [text, line, col, says] of cases) {
    assertVmConfError(() => tokenize(text, '/etc/vm.conf'), { code: 'VMCONF_PARSE', line, col, says });
  }
});
