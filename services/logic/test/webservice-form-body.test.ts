/** The form bodies of seed 001's `/send` (jQuery's `$.post`, express `urlencoded({extended: true})`). */
import { FormBodyError, MAX_PARAMETERS, parseFormBody } from '../src/routes/webservice/form-body';

test.each([
  ['rooms[]=user_5&event=message&args[]=hi', { rooms: ['user_5'], event: 'message', args: ['hi'] }],
  ['rooms=a&rooms=b', { rooms: ['a', 'b'] }],
  ['args[0]=user&args[1][id]=1&args[1][tags][]=x&args[1][tags][]=y', { args: ['user', { id: '1', tags: ['x', 'y'] }] }],
  ['a[3]=x&a[1]=y', { a: ['y', 'x'] }],
  ['event=hello+world%21&x=', { event: 'hello world!', x: '' }],
  ['', {}],
])('%s', (body, parsed) => {
  expect(parseFormBody(body)).toEqual(parsed);
});

test.each([
  ['__proto__[x]=1', 'key __proto__ refused'],
  ['a[constructor]=1', 'key constructor refused'],
  ['a=%E0%A4%A', 'malformed percent-encoding'],
  ['a[b]c=1', 'unreadable key a[b]c'],
  ['a[1][2][3][4][5][6]=1', 'key nested deeper than 5'],
  ['a=1&a[b]=2', 'key a given as a value and as a container'],
])('%s is refused: %s', (body, reason) => {
  expect(() => parseFormBody(body)).toThrow(new FormBodyError(reason));
});

test(`more than ${MAX_PARAMETERS} pairs are refused`, () => {
  expect(() => parseFormBody(Array.from({ length: MAX_PARAMETERS + 1 }, (_, i) => `k${i}=1`).join('&'))).toThrow(FormBodyError);
  expect(({} as Record<string, unknown>)['x']).toBeUndefined();
});
