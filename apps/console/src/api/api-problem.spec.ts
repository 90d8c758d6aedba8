import { HeraldApi } from './herald-api';
import { ApiProblem, problemFromAnswer } from './api-problem';

describe('problems in words', () => {
  it('keeps the title, detail and field errors of an RFC 9457 answer', () => {
    const problem = problemFromAnswer(
      400,
      'Bad Request',
      JSON.stringify({
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'The request is invalid',
        code: 'subscriptions.invalid',
        errors: [{ pointer: '/filter/data.total/$gtt', message: 'unknown operator $gtt' }],
      }),
    );
    expect(problem).toMatchObject({
      status: 400,
      title: 'Bad Request',
      detail: 'The request is invalid',
      code: 'subscriptions.invalid',
      errors: [{ pointer: '/filter/data.total/$gtt', message: 'unknown operator $gtt' }],
    });
  });

  it('still says something readable when the answer is not a problem', () => {
    expect(problemFromAnswer(502, 'Bad Gateway', '<html>proxy down</html>')).toMatchObject({
      title: 'Bad Gateway',
      detail: '<html>proxy down</html>',
    });
    expect(problemFromAnswer(500, '', '').detail).toBe(
      'The server answered 500 without saying why.',
    );
  });

  it('hands a refused key to onUnauthorized and throws the problem', async () => {
    const refused: ApiProblem[] = [];
    const api = new HeraldApi({
      baseUrl: 'http://herald.test',
      key: 'hk_wrong',
      onUnauthorized: (problem) => refused.push(problem),
      fetch: (_input, init) => {
        expect(new Headers(init?.headers).get('authorization')).toBe('Bearer hk_wrong');
        return Promise.resolve(
          new Response(
            JSON.stringify({
              title: 'Unauthorized',
              status: 401,
              detail: 'The API key is not valid',
            }),
            { status: 401, headers: { 'content-type': 'application/problem+json' } },
          ),
        );
      },
    });
    await expect(api.listSubscriptions()).rejects.toMatchObject({
      status: 401,
      detail: 'The API key is not valid',
    });
    expect(refused.map((problem) => problem.title)).toEqual(['Unauthorized']);
  });

  it('turns a failed connection into a problem naming what could not be reached', async () => {
    const api = new HeraldApi({
      baseUrl: 'http://herald.test',
      key: null,
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
    });
    await expect(api.eventTypes()).rejects.toMatchObject({
      status: null,
      title: 'Could not reach Herald',
      detail: 'Failed to fetch',
    });
  });
});
