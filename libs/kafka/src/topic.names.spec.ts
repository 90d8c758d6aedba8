import { HERALD_TOPICS, isHeraldTopic, topicNameProblem } from './topic.names';

describe('topic names', () => {
  it('names every internal topic under the herald. prefix, legally', () => {
    for (const topic of Object.values(HERALD_TOPICS)) {
      expect(isHeraldTopic(topic)).toBe(true);
      expect(topicNameProblem(topic)).toBeUndefined();
    }
    expect(isHeraldTopic('orders')).toBe(false);
  });

  it.each(['', '.', '..', 'with space', 'a/b', 'x'.repeat(250)])('refuses %j', (name) => {
    expect(topicNameProblem(name)).toEqual(expect.any(String));
  });
});
