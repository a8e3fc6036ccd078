# The examples of SCOOP's usage guide, with only the import lines changed
# ("from scoop import ..." -> "from treadle.scoop import ..."; "import scoop" -> "from treadle import scoop").
# Run by tests/e2e/test_scoop_launcher.py as: python3 -m treadle.scoop -n 2 seed_examples.py ARG
import operator
import random
import sys
import time

from treadle import scoop
from treadle.scoop import futures, shared

data = [random.randint(-1000, 1000) for r in range(1000)]

# "Large datasets", better efficiency: every worker imports this module and builds its own list.
big = [[i for i in range(x, x + 1000)] for x in range(0, 8001, 1000)]


def mySum(inIndex):
    """The worker will only receive an index from network."""
    return sum(big[inIndex])


def mySumOfData(inData):
    """The worker will receive all its data from network."""
    return sum(inData)


def myParallelFunc(inValue):
    myValue = shared.getConst('myValue')
    return inValue + myValue


class myClass(object):
    @staticmethod
    def myFunction(x):
        return x


def where(x):
    # Long enough that one worker cannot drain the map before the other takes its share
    # (instant calls may all run on one worker, which placement is free to choose).
    time.sleep(0.02)
    return scoop.worker


if __name__ == '__main__':
    # Map
    dataSerial = list(map(abs, data))
    dataParallel = list(futures.map(abs, data))
    assert dataSerial == dataParallel
    # mapReduce
    serialSum = sum(map(abs, data))
    parallelSum = futures.mapReduce(abs, operator.add, data)
    assert serialSum == parallelSum
    # Object sharing (the guide's "setCont" is a typo of setConst)
    shared.setConst(myValue=5)
    print(list(futures.map(myParallelFunc, range(10))))
    # Logging
    scoop.logger.warn("This is a warning!")
    # Large datasets, both ways
    assert list(futures.map(mySumOfData, big)) == list(futures.map(mySum, range(len(big))))
    # What SCOOP's pickle could not send, cloudpickle does
    def mySecondFunction(x):
        return x
    assert list(futures.map(myClass.myFunction, [1, 2, 3, 4, 5])) == [1, 2, 3, 4, 5]
    assert list(futures.map(mySecondFunction, [1, 2, 3, 4, 5])) == [1, 2, 3, 4, 5]
    # -n 2: two workers did the work; the program's arguments are its own
    print("workers", len(set(futures.map(where, range(40)))))
    print("arguments", sys.argv[1:])
    sys.exit(7)
