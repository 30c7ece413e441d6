import { describe, expect, it } from 'vitest';
import { countTokens, findPromptDetails, simulatedMessage, tokenEnd } from './simulated-message.js';

const DETAILS = { company: 'Blue Harbor Logistics', name: 'Dana' };

describe('simulatedMessage', () => {
  it('has exactly the requested number of tokens, for any count', () => {
    for (let count = 1; count <= 300; count++) {
      expect(countTokens(simulatedMessage(DETAILS, count * 7919, count))).toBe(count);
    }
  });

  it('is the same for the same seed and differs between seeds', () => {
    expect(simulatedMessage(DETAILS, 42, 120)).toBe(simulatedMessage(DETAILS, 42, 120));
    expect(simulatedMessage(DETAILS, 43, 120)).not.toBe(simulatedMessage(DETAILS, 42, 120));
  });

  it('greets the contact, names the company and signs off', () => {
    const text = simulatedMessage(DETAILS, 1, 60);
    expect(text).toMatch(/^(Hi|Hello|Dear|Good morning) Dana,\n\n/);
    expect(text).toContain('Blue Harbor Logistics');
    expect(text.endsWith('\n\nBest regards,\nAlex')).toBe(true);
  });

  it('greets the company when no contact is known', () => {
    const text = simulatedMessage({ company: null, name: null }, 1, 60);
    expect(text).toContain('your company');
  });
});

describe('tokenEnd', () => {
  it('cuts a text into tokens that join back into it', () => {
    const text = simulatedMessage(DETAILS, 9, 80);
    const pieces: string[] = [];
    for (let offset = 0; offset < text.length; ) {
      const end = tokenEnd(text, offset, 3);
      pieces.push(text.slice(offset, end));
      offset = end;
    }
    expect(pieces.join('')).toBe(text);
    expect(pieces.length).toBe(Math.ceil(80 / 3));
  });
});

describe('findPromptDetails', () => {
  it('reads Company and Contact lines, whatever their case', () => {
    expect(findPromptDetails('Write.\nCOMPANY: Acme Inc.\ncontact:  Jo  Lee\n')).toEqual({
      company: 'Acme Inc',
      name: 'Jo Lee',
    });
  });

  it('finds nothing in a prompt without such lines', () => {
    expect(findPromptDetails('Write a poem about the sea.')).toEqual({ company: null, name: null });
  });
});
