// A FIFO with O(1) push, shift and unshift. Arrays' shift() is O(n) once they grow
// large, and a host can have thousands of waiters queued.
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(value: T): void {
    this.items.push(value);
  }

  unshift(value: T): void {
    if (this.head > 0) {
      this.head--;
      this.items[this.head] = value;
    } else {
      this.items.unshift(value);
    }
  }

  peek(): T | undefined {
    return this.length > 0 ? this.items[this.head] : undefined;
  }

  /** The i-th value from the front, without removing it. */
  at(i: number): T | undefined {
    return i >= 0 && i < this.length ? this.items[this.head + i] : undefined;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const value = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    // Compact once the dead prefix dominates, so memory follows the live length.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return value;
  }

  /** Removes one value (by identity); O(n), used only for aborted waiters. */
  remove(value: T): boolean {
    const i = this.items.indexOf(value, this.head);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }
}
