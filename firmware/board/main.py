# main.py on the board: start the sensor node described by config.json.
from firmware.board.app import main

if __name__ == "__main__":
    main()
