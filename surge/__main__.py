from surge.cli import main

raise SystemExit(main())
